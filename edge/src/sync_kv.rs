//! The object's synchronous key-value storage: `ctx.storage.kv` of a SQLite-backed Durable
//! Object. What a new instance reads before its first event and what each event writes go
//! through it, so that neither waits for a turn of workerd's event loop: an event that
//! writes (a connect's live record, a broadcast logged for recovery) is handled to its end in
//! the call that delivered it, and its writes, made without a pause between them, are
//! committed together. They are as durable as awaited writes: workerd holds the object's
//! outgoing messages until its writes are confirmed (the output gate). The asynchronous API
//! reads and writes the same entries (workerd keeps both in one table).

use wasm_bindgen::prelude::*;
use worker::{Error, Result, State};

#[wasm_bindgen]
extern "C" {
    /// `ctx.storage`, as far as this module reads it.
    type StorageWithKv;
    /// `ctx.storage.kv`; throws for an object whose class is not SQLite-backed.
    #[wasm_bindgen(method, getter, catch)]
    fn kv(this: &StorageWithKv) -> std::result::Result<SyncKv, JsValue>;

    /// `SyncKvStorage`.
    pub type SyncKv;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get_raw(this: &SyncKv, key: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = put)]
    fn put_raw(this: &SyncKv, key: &str, value: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = delete)]
    fn delete_raw(this: &SyncKv, key: &str) -> std::result::Result<bool, JsValue>;
    #[wasm_bindgen(method, catch, js_name = list)]
    fn list_raw(this: &SyncKv) -> std::result::Result<js_sys::Iterator, JsValue>;
}

/// What an object whose class is not SQLite-backed is told.
const NOT_SQLITE: &str = "wasmio's Durable Objects need a SQLite-backed class: declare it under \
                          `new_sqlite_classes` in the migrations of wrangler.toml";

impl SyncKv {
    /// The synchronous storage of the object with this state; for a class that is not
    /// SQLite-backed, an error that says so (workerd answers the event's request 500, and logs
    /// that the class must be declared under `new_sqlite_classes`).
    pub fn of(state: &State) -> Result<SyncKv> {
        let storage: StorageWithKv = state.as_raw().storage().map_err(Error::from)?.unchecked_into();
        storage.kv().map_err(|error| Error::RustError(format!("{NOT_SQLITE} ({})", describe(&error))))
    }

    /// Every (key, text value) entry; values that are not text are skipped.
    pub fn text_entries(&self) -> Result<Vec<(String, String)>> {
        let entries = self.list_raw()?;
        let mut out = Vec::new();
        for entry in entries {
            let pair: js_sys::Array = entry?.unchecked_into();
            if let (Some(key), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out.push((key, value));
            }
        }
        Ok(out)
    }

    /// The text value of `key`: `None` when there is none, or when it is not text.
    pub fn text(&self, key: &str) -> Result<Option<String>> {
        Ok(self.get_raw(key)?.as_string())
    }

    /// Writes these entries and deletes these keys.
    pub fn write(&self, puts: &[(String, String)], deletes: &[String]) -> Result<()> {
        for (key, value) in puts {
            self.put_raw(key, value)?;
        }
        for key in deletes {
            self.delete_raw(key)?;
        }
        Ok(())
    }
}

/// A thrown value's message, for an error that says why.
fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "no detail".to_owned())
}
