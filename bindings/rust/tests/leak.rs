//! Loading and freeing a model 100 times must not grow the process (its own test binary, so no
//! other test runs in the process meanwhile).
mod common;

use common::*;
use llamas::*;

#[test]
fn load_free_100_times_does_not_grow() {
    let path = data_dir().join("models/qwen2-Q8_0.gguf");
    let cycle = || {
        let model = Model::load(&path).unwrap();
        let mut ctx = model.new_context(&ContextOptions { n_ctx: 64, ..Default::default() }).unwrap();
        ctx.decode(&[1, 2, 3]).unwrap();
    };
    for _ in 0..3 {
        cycle();
    }
    let before = rss_kib();
    for _ in 0..100 {
        cycle();
    }
    let after = rss_kib();
    eprintln!("RSS {before} -> {after} KiB");
    assert!(after - before < 8 * 1024, "RSS grew from {before} to {after} KiB");
}
