//! The `bytes` constants compiled code passes to foreign functions as `char *` (issue 16):
//! each distinct constant is copied once, NUL-terminated as CPython keeps a `bytes` object's
//! buffer, and the copy lives as long as the process (compiled code embeds its address, and a
//! program has finitely many constants).

use std::collections::HashMap;
use std::sync::Mutex;

use once_cell::sync::Lazy;

static INTERNED: Lazy<Mutex<HashMap<Vec<u8>, usize>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The address of a NUL-terminated copy of `bytes` (the same address for the same bytes).
pub fn address(bytes: &[u8]) -> usize {
    let mut table = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&a) = table.get(bytes) {
        return a;
    }
    let mut copy = bytes.to_vec();
    copy.push(0);
    let a = Box::leak(copy.into_boxed_slice()).as_ptr() as usize;
    table.insert(bytes.to_vec(), a);
    a
}
