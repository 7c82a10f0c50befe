//! The D-Bus calls to systemd's manager (org.freedesktop.systemd1 on the system bus): start a
//! transient unit, stop it, set its properties, each waiting for its job to finish, as runc
//! does. Only reached under `--systemd-cgroup` (or for a container created with it).

use super::props::{Property, Value};
use std::sync::mpsc;
use std::time::Duration;
use zbus::blocking::{Connection, MessageIterator};
use zbus::zvariant::{self, OwnedObjectPath};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long a job may take (runc waits 30 s too); a scope's is done in milliseconds.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call failed, in words for the error naming `--systemd-cgroup`.
pub(crate) type Reason = String;

pub(crate) struct Bus {
    conn: Connection,
}

impl Bus {
    /// Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket).
    pub(crate) fn connect() -> Result<Bus, Reason> {
        let conn = zbus::blocking::connection::Builder::system()
            .and_then(|b| b.method_timeout(JOB_TIMEOUT).build())
            .map_err(|e| format!("cannot connect to the system D-Bus: {e}"))?;
        Ok(Bus { conn })
    }

    /// StartTransientUnit in "replace" mode, then waits for its job.
    pub(crate) fn start_unit(&self, unit: &str, props: &[Property]) -> Result<(), Reason> {
        let props: Vec<(&str, zvariant::Value)> =
            props.iter().map(|(k, v)| (*k, variant(v))).collect();
        let aux: Vec<(&str, Vec<(&str, zvariant::Value)>)> = Vec::new();
        self.run_job(unit, "StartTransientUnit", &(unit, "replace", props, aux))
    }

    /// StopUnit and wait; a unit systemd no longer has is stopped already.
    pub(crate) fn stop_unit(&self, unit: &str) -> Result<(), Reason> {
        match self.run_job(unit, "StopUnit", &(unit, "replace")) {
            Err(e) if e.contains("org.freedesktop.systemd1.NoSuchUnit") => Ok(()),
            other => other,
        }
    }

    /// SetUnitProperties with runtime=true: kept until the unit goes (or a reboot), and
    /// re-applied by systemd on `daemon-reload`.
    pub(crate) fn set_properties(&self, unit: &str, props: &[Property]) -> Result<(), Reason> {
        let props: Vec<(&str, zvariant::Value)> =
            props.iter().map(|(k, v)| (*k, variant(v))).collect();
        self.call("SetUnitProperties", &(unit, true, props))
            .map(drop)
    }

    /// The unit's cgroup, as systemd reports it (ControlGroup of the loaded unit).
    pub(crate) fn control_group(&self, unit: &str) -> Result<String, Reason> {
        let reply = self.call("GetUnit", &(unit,))?;
        let path: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| format!("GetUnit {unit}: {e}"))?;
        let reply = self
            .conn
            .call_method(
                Some(DEST),
                path.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.freedesktop.systemd1.Scope", "ControlGroup"),
            )
            .map_err(|e| format!("{unit} ControlGroup: {e}"))?;
        let value: zvariant::OwnedValue = reply
            .body()
            .deserialize()
            .map_err(|e| format!("{unit} ControlGroup: {e}"))?;
        String::try_from(value).map_err(|e| format!("{unit} ControlGroup: {e}"))
    }

    fn call<B>(&self, method: &str, body: &B) -> Result<zbus::message::Message, Reason>
    where
        B: serde::Serialize + zvariant::DynamicType,
    {
        self.conn
            .call_method(Some(DEST), PATH, Some(MANAGER), method, body)
            .map_err(|e| format!("{method}: {e}"))
    }

    /// Calls `method` (which returns a job) and waits for the job's JobRemoved signal. The
    /// match is added before the call, so a job that finishes at once is not missed.
    fn run_job<B>(&self, unit: &str, method: &str, body: &B) -> Result<(), Reason>
    where
        B: serde::Serialize + zvariant::DynamicType,
    {
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender(DEST)
            .and_then(|b| b.interface(MANAGER))
            .and_then(|b| b.member("JobRemoved"))
            .and_then(|b| b.path(PATH))
            .map(|b| b.build())
            .map_err(|e| format!("JobRemoved match: {e}"))?;
        let iter = MessageIterator::for_match_rule(rule, &self.conn, None)
            .map_err(|e| format!("watching systemd's jobs: {e}"))?;
        // systemd sends job signals only while some client is subscribed.
        self.call("Subscribe", &())?;
        let reply = self.call(method, body)?;
        let job: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| format!("{method} {unit}: {e}"))?;
        let result = wait_job(iter, job)?;
        match result.as_str() {
            "done" => Ok(()),
            other => Err(format!("{method} {unit}: systemd's job ended \"{other}\"")),
        }
    }
}

/// The result of `job` ("done", "failed", "canceled"...). The iterator blocks without a
/// timeout, so it is read on a thread of its own; on timeout that thread is left behind,
/// blocked, until berth exits.
fn wait_job(mut iter: MessageIterator, job: OwnedObjectPath) -> Result<String, Reason> {
    let (tx, rx) = mpsc::channel();
    let watch = job.clone();
    std::thread::spawn(move || {
        for msg in iter.by_ref() {
            let Ok(msg) = msg else {
                break;
            };
            let body = msg.body();
            let Ok((_id, path, _unit, result)) =
                body.deserialize::<(u32, OwnedObjectPath, String, String)>()
            else {
                continue;
            };
            if path == watch {
                let _ = tx.send(result);
                return;
            }
        }
    });
    rx.recv_timeout(JOB_TIMEOUT)
        .map_err(|_| format!("systemd's job {} did not finish in time", job.as_str()))
}

fn variant(v: &Value) -> zvariant::Value<'static> {
    match v {
        Value::Str(s) => zvariant::Value::from(s.clone()),
        Value::Bool(b) => zvariant::Value::from(*b),
        Value::U64(n) => zvariant::Value::from(*n),
        Value::U32s(list) => zvariant::Value::from(list.clone()),
        Value::Bytes(bytes) => zvariant::Value::from(bytes.clone()),
        Value::Devices(list) => zvariant::Value::from(list.clone()),
    }
}
