//! Acceptance tests against the reference outputs.
mod common;

use common::*;
use llamas::*;

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn thread_safety_markers() {
    assert_send::<Model>();
    assert_sync::<Model>();
    assert_send::<Context<'static>>();
    assert_send::<Sampler<'static>>();
    assert_send::<Canceller<'static>>();
    assert_sync::<Canceller<'static>>();
}

#[test]
fn version_is_semver() {
    assert_eq!(version().unwrap().matches('.').count(), 2);
}

#[test]
fn greedy_generation_matches_reference() {
    let data = data_dir();
    let refs = read_jsonl(data.join("reference/outputs/qwen2-Q8_0.jsonl"));
    let prompt = refs[0].get("prompt").as_str();
    let want = &refs[0].get("greedy").as_i32s()[..16];
    let model = Model::load(data.join("models/qwen2-Q8_0.gguf")).unwrap();
    assert_eq!(model.tokenize(prompt, true, false).unwrap(), refs[0].get("tokens").as_i32s());
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 256, ..Default::default() }).unwrap();
    let mut sampler = model.new_sampler(&SamplerOptions::greedy()).unwrap();
    let mut got = Vec::new();
    let mut text = String::new();
    let n = ctx
        .generate(&mut sampler, prompt, &GenerateOptions { max_tokens: 16, ..Default::default() }, |piece, tok| {
            got.push(tok);
            text.push_str(piece);
            true
        })
        .unwrap();
    assert_eq!(n, 16);
    assert_eq!(got, want);
    assert_eq!(text, model.detokenize(want, true).unwrap());
}

#[test]
fn greedy_by_argmax_over_logits_and_early_stop() {
    let data = data_dir();
    let refs = read_jsonl(data.join("reference/outputs/qwen2-Q8_0.jsonl"));
    let tokens = refs[0].get("tokens").as_i32s();
    let want = &refs[0].get("greedy").as_i32s()[..16];
    let model = Model::load(data.join("models/qwen2-Q8_0.gguf")).unwrap();
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 256, ..Default::default() }).unwrap();
    assert!(ctx.logits().is_none());
    ctx.decode(&tokens).unwrap();
    let mut got = Vec::new();
    for _ in 0..16 {
        let logits = ctx.logits().unwrap();
        assert_eq!(logits.len(), model.n_vocab());
        let best = (0..logits.len()).fold(0, |b, i| if logits[i] > logits[b] { i } else { b }) as Token;
        got.push(best);
        ctx.decode(&[best]).unwrap();
    }
    assert_eq!(got, want);
    assert_eq!(ctx.n_past(), tokens.len() + 16);

    // Stopping from the callback after 3 pieces.
    ctx.kv_clear().unwrap();
    let mut sampler = model.new_sampler(&SamplerOptions::greedy()).unwrap();
    let mut seen = Vec::new();
    ctx.generate(&mut sampler, refs[0].get("prompt").as_str(), &GenerateOptions::default(), |_, tok| {
        seen.push(tok);
        seen.len() < 3
    })
    .unwrap();
    assert_eq!(seen, &want[..3]);
}

#[test]
fn embeddings_match_reference() {
    let data = data_dir();
    let refs = read_jsonl(data.join("reference/outputs/bert-F16.jsonl"));
    let prompts: Vec<String> = std::fs::read_to_string(data.join("reference/embed_prompts.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.replace("\\n", "\n").replace("\\t", "\t"))
        .collect();
    assert!(prompts.len() >= 5);
    let model = Model::load(data.join("models/bert-F16.gguf")).unwrap();
    let vecs = model.embed(&prompts).unwrap();
    assert_eq!(vecs.len(), prompts.len());
    for (p, v) in prompts.iter().zip(&vecs) {
        let r = refs.iter().find(|r| r.get("prompt").as_str() == p).unwrap_or_else(|| panic!("no reference for {p:?}"));
        let want = r.get("embedding").as_f64s();
        assert_eq!(v.len(), want.len());
        let c = cosine(v, &want);
        assert!(c >= 0.999, "{p:?}: cosine {c}");
    }
}

#[test]
fn missing_model_is_an_error_with_the_library_message() {
    let path = data_dir().join("models/does-not-exist.gguf");
    let err = Model::load(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("does-not-exist.gguf"), "{err}");
    assert!(err.to_string().contains(err.message()));
}

#[test]
fn errors_carry_status_and_message() {
    let model = Model::load(data_dir().join("models/qwen2-Q8_0.gguf")).unwrap();
    assert_eq!(model.meta("no.such.key").unwrap_err().kind(), ErrorKind::NotFound); // since 0.2
    assert_eq!(model.meta("general.architecture").unwrap(), "qwen2");
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 64, ..Default::default() }).unwrap();
    let err = ctx.decode(&[model.n_vocab() as Token + 5]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(!err.message().is_empty());
}

#[test]
fn model_is_shared_between_threads() {
    let model = Model::load(data_dir().join("models/qwen2-Q8_0.gguf")).unwrap();
    let want = model.tokenize("Once upon a time", true, false).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut ctx = model.new_context(&ContextOptions { n_ctx: 64, ..Default::default() }).unwrap();
                    ctx.decode(&model.tokenize("Once upon a time", true, false).unwrap()).unwrap();
                    model.tokenize("Once upon a time", true, false).unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), want);
        }
    });
}

#[test]
fn cancel_from_another_thread() {
    let model = Model::load(data_dir().join("models/qwen2-Q8_0.gguf")).unwrap();
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 256, ..Default::default() }).unwrap();
    let mut sampler = model.new_sampler(&SamplerOptions::greedy()).unwrap();
    let canceller = ctx.canceller();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            rx.recv().unwrap();
            canceller.cancel();
            done_tx.send(()).unwrap();
        });
        let mut n = 0;
        let err = ctx
            .generate(&mut sampler, "Once upon a time", &GenerateOptions { max_tokens: 200, ..Default::default() }, |_, _| {
                n += 1;
                if n == 2 {
                    tx.send(()).unwrap();
                    done_rx.recv().unwrap(); // the cancel has been requested
                }
                true
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert!((2..200).contains(&n));
    });
    // The flag cleared when the call returned.
    ctx.generate(&mut sampler, " and", &GenerateOptions { max_tokens: 2, ..Default::default() }, |_, _| true).unwrap();
}
