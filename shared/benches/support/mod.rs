//! What both presign benchmarks share (`shared/benches/presign.rs` and, by `#[path]`,
//! `functions/presign/benches/handler.rs`): deterministic inputs and the per-item timing records
//! their summaries are printed from.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// xorshift64*: the same inputs in every run, without a crate for it.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// An STS session token of a real one's size (900 characters), random from `seed`.
pub fn session_token(seed: u64) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Rng(seed);
    let mut token = String::from("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+");
    while token.len() < 898 {
        token.push(char::from(B64[rng.below(B64.len())]));
    }
    token.push_str("==");
    token
}

/// Per-item µs of every criterion sample, warm-up included, by benchmark id.
static RECORDS: Mutex<BTreeMap<&'static str, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// Records one sample: `iters` iterations of `items` each took `elapsed`.
pub fn record(id: &'static str, iters: u64, items: usize, elapsed: Duration) {
    let per_item_us = elapsed.as_secs_f64() * 1e6 / (iters as f64 * items as f64);
    RECORDS.lock().unwrap().entry(id).or_default().push(per_item_us);
}

/// The median per-item µs recorded for `id`.
pub fn recorded_median(id: &str) -> Option<f64> {
    median(RECORDS.lock().unwrap().get(id)?)
}

pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| {
        if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        }
    })
}
