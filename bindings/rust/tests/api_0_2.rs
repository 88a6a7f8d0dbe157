//! The 0.2 surface: sequences and batches, logprobs, state, vocabulary, typed metadata, sampler
//! choose/accept/filter, stop strings, token callbacks, finish reasons, load progress.
mod common;

use common::*;
use llamas::*;

const KJV: &str = "models/kjv-tiny-Q8_0.gguf";
const PROMPT_A: &str = "In the beginning God created";
const PROMPT_B: &str = "And the LORD said unto Moses,";

fn kjv() -> Model {
    Model::load(data_dir().join(KJV)).unwrap()
}

fn ctx_opts(n_ctx: u32, n_seq_max: u32) -> ContextOptions {
    ContextOptions { n_ctx, n_seq_max, ..Default::default() }
}

fn argmax(v: &[f32]) -> Token {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as Token
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
    let worst = got.iter().zip(want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    // The library is deterministic: batch rows equal single-sequence rows bit for bit.
    assert!(worst == 0.0, "logits differ by {worst} (scale {scale})");
}

fn greedy_continue(ctx: &mut Context<'_>, seq: i32, first: Vec<f32>, n: usize) -> Vec<Token> {
    let mut out = Vec::new();
    let mut logits = first;
    for _ in 0..n {
        let t = argmax(&logits);
        out.push(t);
        ctx.decode_batch(&Batch { tokens: vec![t], seq_ids: vec![seq], ..Default::default() }).unwrap();
        logits = ctx.logits_ith(-1).unwrap().to_vec();
    }
    out
}

#[test]
fn option_structs_match_the_header() {
    use std::mem::size_of;
    assert_eq!(size_of::<sys::llamas_model_options>(), 32);
    assert_eq!(size_of::<sys::llamas_context_options>(), 32);
    assert_eq!(size_of::<sys::llamas_sampler_options>(), 56);
    assert_eq!(size_of::<sys::llamas_generate_options>(), 64);
    assert_eq!(size_of::<sys::llamas_embed_options>(), 24);
    assert_eq!(size_of::<sys::llamas_token_info>(), 24);
    assert_eq!(size_of::<sys::llamas_token_logprob>(), 8);
    let g = sys::llamas_generate_options::default();
    let base = &g as *const _ as usize;
    assert_eq!(&g.stop as *const _ as usize - base, 24);
    assert_eq!(&g.token_callback as *const _ as usize - base, 40);
    assert_eq!(&g.n_probs as *const _ as usize - base, 56);
    let s = sys::llamas_sampler_options::default();
    assert_eq!(&s.seed as *const _ as usize - &s as *const _ as usize, 48);
    // the library's own init fills exactly these sizes
    let mut m = sys::llamas_model_options::default();
    unsafe { sys::api().unwrap().init_model_options(&mut m) };
    assert_eq!(m.struct_size, 32);
}

#[test]
fn batch_of_two_interleaved_sequences_equals_single_runs() {
    let model = kjv();
    let a = model.tokenize(PROMPT_A, true, false).unwrap();
    let b = model.tokenize(PROMPT_B, true, false).unwrap();
    let (la, lb) = {
        let mut single = model.new_context(&ctx_opts(128, 1)).unwrap();
        single.decode(&a).unwrap();
        let la = single.logits().unwrap().to_vec();
        single.kv_clear().unwrap();
        single.decode(&b).unwrap();
        (la, single.logits().unwrap().to_vec())
    };
    let mut batch = Batch::default();
    let (mut last_a, mut last_b) = (0, 0);
    for i in 0..a.len().max(b.len()) {
        for (s, toks) in [(0, &a), (1, &b)] {
            if i < toks.len() {
                let last = i + 1 == toks.len();
                batch.add(toks[i], i as i32, s, last);
                if s == 0 {
                    last_a = batch.tokens.len() - 1;
                } else {
                    last_b = batch.tokens.len() - 1;
                }
            }
        }
    }
    let mut ctx = model.new_context(&ctx_opts(128, 2)).unwrap();
    assert_eq!(ctx.n_seq_max(), 2);
    ctx.decode_batch(&batch).unwrap();
    assert_close(ctx.logits_ith(last_a as i32).unwrap(), &la);
    assert_close(ctx.logits_ith(last_b as i32).unwrap(), &lb);
    assert!(ctx.logits_ith(0).is_none());
    assert_eq!(ctx.seq_pos_min(0), Some(0));
    assert_eq!(ctx.seq_pos_max(0), Some(a.len() as i32 - 1));
    assert_eq!(ctx.seq_pos_max(1), Some(b.len() as i32 - 1));
    // implicit positions and default logits
    ctx.kv_clear().unwrap();
    let implicit = Batch { tokens: batch.tokens.clone(), seq_ids: batch.seq_ids.clone(), ..Default::default() };
    ctx.decode_batch(&implicit).unwrap();
    assert_close(ctx.logits_ith(last_a as i32).unwrap(), &la);
    assert_close(ctx.logits_ith(last_b as i32).unwrap(), &lb);
    let bad = Batch { tokens: vec![1], seq_ids: vec![9], ..Default::default() };
    assert_eq!(ctx.decode_batch(&bad).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn seq_copy_then_greedy_equals_recomputing() {
    let model = kjv();
    let a = model.tokenize(PROMPT_A, true, false).unwrap();
    let want = {
        let mut r = model.new_context(&ctx_opts(128, 1)).unwrap();
        r.decode(&a).unwrap();
        let first = r.logits().unwrap().to_vec();
        greedy_continue(&mut r, 0, first, 8)
    };
    let mut ctx = model.new_context(&ctx_opts(128, 3)).unwrap();
    ctx.decode_batch(&Batch { tokens: a.clone(), ..Default::default() }).unwrap();
    let first = ctx.logits_ith(-1).unwrap().to_vec();
    ctx.seq_copy(0, 2, -1).unwrap();
    assert_eq!(greedy_continue(&mut ctx, 2, first, 8), want);
    ctx.seq_keep(2).unwrap();
    assert_eq!(ctx.seq_pos_max(0), None);
    assert_eq!(ctx.seq_pos_max(2), Some(a.len() as i32 - 1 + 8));
    ctx.seq_shift(2, 0, -1, 4).unwrap();
    assert_eq!(ctx.seq_pos_min(2), Some(4));
    ctx.seq_remove(2, 4, 6, true).unwrap();
    assert_eq!(ctx.seq_pos_max(2), Some(a.len() as i32 - 1 + 8 + 4 - 2));
}

#[test]
fn logprobs_top_is_argmax() {
    let model = kjv();
    let mut ctx = model.new_context(&ctx_opts(64, 1)).unwrap();
    ctx.decode(&model.tokenize(PROMPT_A, true, false).unwrap()).unwrap();
    let best = argmax(ctx.logits().unwrap());
    let (lp, top) = ctx.logprobs(-1, Some(best), 4).unwrap();
    let lp = lp.unwrap();
    assert_eq!(top.len(), 4);
    assert_eq!(top[0].token, best);
    assert!((top[0].logprob - lp).abs() < 1e-6 && lp <= 0.0);
    assert!(top.windows(2).all(|w| w[0].logprob >= w[1].logprob));
}

#[test]
fn state_save_load_bytes_and_file() {
    let model = kjv();
    let a = model.tokenize(PROMPT_A, true, false).unwrap();
    let dir = std::env::temp_dir().join(format!("llamas-rust-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.bin");
    let (state, want) = {
        let mut ctx = model.new_context(&ctx_opts(128, 1)).unwrap();
        ctx.decode(&a).unwrap();
        let state = ctx.state_save(None).unwrap();
        ctx.state_save_file(&file, None).unwrap();
        let first = ctx.logits().unwrap().to_vec();
        (state, greedy_continue(&mut ctx, 0, first, 8))
    };
    for from_file in [false, true] {
        let mut ctx = model.new_context(&ctx_opts(128, 1)).unwrap();
        if from_file {
            ctx.state_load_file(&file, None).unwrap();
        } else {
            ctx.state_load(&state, None).unwrap();
        }
        assert_eq!(ctx.n_past(), a.len());
        let first = ctx.logits().unwrap().to_vec();
        assert_eq!(greedy_continue(&mut ctx, 0, first, 8), want);
    }
    let mut ctx = model.new_context(&ctx_opts(128, 1)).unwrap();
    let mut bad = state.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x5A;
    let kind = ctx.state_load(&bad, None).unwrap_err().kind();
    assert!(kind == ErrorKind::BadFormat || kind == ErrorKind::NotFound, "{kind:?}");
    assert!(ctx.state_load(&state[..state.len() / 3], None).is_err());
    assert_eq!(ctx.state_load_file(dir.join("missing"), None).unwrap_err().kind(), ErrorKind::Io);
    std::fs::remove_dir_all(&dir).ok();
}

fn gen_text(ctx: &mut Context<'_>, s: &mut Sampler<'_>, opts: &GenerateOptions) -> String {
    let mut out = String::new();
    ctx.generate(s, PROMPT_A, opts, |p, _| {
        out.push_str(p);
        true
    })
    .unwrap();
    out
}

#[test]
fn stop_strings_finish_reason_token_callback() {
    let model = kjv();
    let mut ctx = model.new_context(&ctx_opts(128, 1)).unwrap();
    let mut s = model.new_sampler(&SamplerOptions::greedy()).unwrap();
    let full = gen_text(&mut ctx, &mut s, &GenerateOptions { max_tokens: 24, ..Default::default() });
    assert!(matches!(ctx.finish_reason(), FinishReason::MaxTokens | FinishReason::Eog));
    let stop = full[full.len() / 2..full.len() / 2 + 3].to_string();
    ctx.kv_clear().unwrap();
    let opts = GenerateOptions { max_tokens: 24, stop: vec!["\x01never".into(), stop.clone()], ..Default::default() };
    let got = gen_text(&mut ctx, &mut s, &opts);
    assert_eq!(ctx.finish_reason(), FinishReason::StopString);
    assert_eq!(got, full[..full.find(&stop).unwrap()]);

    ctx.kv_clear().unwrap();
    let mut infos = Vec::new();
    let mut toks = Vec::new();
    let opts = GenerateOptions { max_tokens: 5, n_probs: 3, ..Default::default() };
    ctx.generate_with_tokens(&mut s, PROMPT_A, &opts, |ti| infos.push(ti.clone()), |_, t| {
        toks.push(t);
        toks.len() < 2
    })
    .unwrap();
    assert_eq!(ctx.finish_reason(), FinishReason::Callback);
    assert_eq!(infos.iter().map(|i| i.token).collect::<Vec<_>>(), toks);
    assert!(infos.iter().all(|i| i.top.len() == 3 && i.top[0].token == i.token));

    // a panic in the token callback does not unwind through C
    ctx.kv_clear().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.generate_with_tokens(&mut s, PROMPT_A, &opts, |_| panic!("token boom"), |_, _| true)
    }));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "token boom");
    ctx.kv_clear().unwrap();
    assert_eq!(ctx.generate(&mut s, PROMPT_A, &GenerateOptions { max_tokens: 2, ..Default::default() }, |_, _| true).unwrap(), 2);
}

#[test]
fn sampler_choose_accept_filter() {
    let model = kjv();
    let mut ctx = model.new_context(&ctx_opts(64, 1)).unwrap();
    let mut s = model.new_sampler(&SamplerOptions::greedy()).unwrap();
    let a = model.tokenize(PROMPT_A, true, false).unwrap();
    ctx.decode(&a).unwrap();
    s.accept(&a).unwrap();
    let best = s.choose(&ctx, -1).unwrap();
    assert_eq!(best, argmax(ctx.logits().unwrap()));
    s.set_filter(Some(Box::new(move |l: &mut [f32]| {
        l[best as usize] = f32::NEG_INFINITY;
        true
    })))
    .unwrap();
    assert_ne!(s.choose(&ctx, -1).unwrap(), best);
    s.set_filter(Some(Box::new(|_: &mut [f32]| false))).unwrap();
    assert_eq!(s.choose(&ctx, -1).unwrap_err().kind(), ErrorKind::Cancelled);
    s.set_filter(Some(Box::new(|_: &mut [f32]| panic!("filter boom")))).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.sample(&mut ctx)));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "filter boom");
    s.set_filter(None).unwrap();
    assert_eq!(s.choose(&ctx, -1).unwrap(), best);
}

#[test]
fn vocabulary_pieces_round_trip() {
    let model = kjv();
    let bos = model.special_token(Special::Bos);
    assert_eq!(bos, model.bos());
    if let Some(bos) = bos {
        assert!(model.token_attr(bos) & TOKEN_ATTR_CONTROL != 0);
        assert_eq!(model.token_to_piece(bos, true, false).unwrap(), model.token_text(bos).unwrap().into_bytes());
    }
    let text = "In the beginning God created the heaven and the earth.";
    let toks = model.tokenize(text, false, false).unwrap();
    let mut joined = Vec::new();
    for (i, &t) in toks.iter().enumerate() {
        joined.extend(model.token_to_piece(t, false, i == 0).unwrap());
        let _ = model.token_score(t);
    }
    assert_eq!(String::from_utf8(joined).unwrap(), text);
    assert!(model.token_text(model.n_vocab() as Token).is_none());
    assert_eq!(model.token_to_piece(model.n_vocab() as Token, false, false).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn metadata_enumeration_and_sizes() {
    let model = kjv();
    let keys = model.meta_keys().unwrap();
    assert!(keys.iter().any(|k| k == "general.architecture"));
    for k in &keys {
        let v = model.meta_value(k).unwrap_or_else(|e| panic!("{k}: {e}"));
        if let MetaValue::Array(items) = &v {
            assert_eq!(items.len() as u64, model.meta_info(k).unwrap().count);
        }
    }
    assert_eq!(model.meta_value("general.architecture").unwrap(), MetaValue::String(model.architecture()));
    assert_eq!(model.meta_value("no.such.key").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(model.meta_int("general.architecture", 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let size = std::fs::metadata(data_dir().join(KJV)).unwrap().len();
    assert_eq!(model.file_size(), size);
    assert!(model.n_params() > 0 && model.tensor_bytes() > 0 && model.tensor_bytes() <= size);
    assert!(!model.description().unwrap().is_empty());
}

#[test]
fn load_progress_and_cancel() {
    let path = data_dir().join(KJV);
    let mut seen = Vec::new();
    drop(
        Model::load_with_progress(&path, &ModelOptions::default(), |f| {
            seen.push(f);
            true
        })
        .unwrap(),
    );
    assert!(seen.len() >= 2 && seen[0] == 0.0 && *seen.last().unwrap() == 1.0, "{seen:?}");
    let err = Model::load_with_progress(&path, &ModelOptions::default(), |_| false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let r = std::panic::catch_unwind(|| Model::load_with_progress(&path, &ModelOptions::default(), |_| panic!("progress boom")));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "progress boom");
}
