package llamas

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	kjvModel = "kjv-tiny-Q8_0.gguf"
	promptA  = "In the beginning God created"
	promptB  = "And the LORD said unto Moses,"
)

func argmax(v []float32) int32 {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return int32(best)
}

func assertClose(t *testing.T, got, want []float32, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	var scale, worst float64
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	// The library is deterministic: batch rows equal single-sequence rows bit for bit.
	if worst != 0 {
		t.Fatalf("%s: logits differ by %g (scale %g)", what, worst, scale)
	}
}

// requires fails the test (instead of panicking the whole run) when the library lacks one
// of the 0.2 functions it uses.
func requires(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := need("llamas_" + n); err != nil {
			t.Fatal(err)
		}
	}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newCtx(t *testing.T, m *Model, opts ContextOptions) *Context {
	t.Helper()
	c, err := m.NewContext(&opts)
	mustNoErr(t, err)
	return c
}

func tokenize(t *testing.T, m *Model, text string) []int32 {
	t.Helper()
	toks, err := m.Tokenize(text, true, false)
	mustNoErr(t, err)
	return toks
}

// greedyContinue generates n greedy tokens of sequence seq from the given logits.
func greedyContinue(t *testing.T, c *Context, seq int32, logits []float32, n int) []int32 {
	t.Helper()
	var out []int32
	for i := 0; i < n; i++ {
		tok := argmax(logits)
		out = append(out, tok)
		mustNoErr(t, c.DecodeBatch(Batch{Tokens: []int32{tok}, SeqIDs: []int32{seq}}))
		logits = c.LogitsIth(-1)
	}
	return out
}

func TestBatchOfTwoInterleavedSequences(t *testing.T) {
	requires(t, "context_n_seq_max", "decode_batch", "logits_ith", "seq_pos_min", "seq_pos_max")
	m := loadModel(t, kjvModel)
	defer m.Close()
	a, b := tokenize(t, m, promptA), tokenize(t, m, promptB)
	single := newCtx(t, m, ContextOptions{NCtx: 128})
	mustNoErr(t, single.Decode(a))
	la := single.Logits()
	mustNoErr(t, single.ClearKV())
	mustNoErr(t, single.Decode(b))
	lb := single.Logits()
	single.Close()

	var batch Batch
	lastA, lastB := -1, -1
	for i := 0; i < len(a) || i < len(b); i++ {
		for s, toks := range [][]int32{a, b} {
			if i < len(toks) {
				batch.Tokens = append(batch.Tokens, toks[i])
				batch.SeqIDs = append(batch.SeqIDs, int32(s))
				batch.Positions = append(batch.Positions, int32(i))
				if s == 0 {
					lastA = len(batch.Tokens) - 1
				} else {
					lastB = len(batch.Tokens) - 1
				}
			}
		}
	}
	c := newCtx(t, m, ContextOptions{NCtx: 128, NSeqMax: 2})
	defer c.Close()
	if c.NSeqMax() != 2 {
		t.Fatalf("NSeqMax %d", c.NSeqMax())
	}
	mustNoErr(t, c.DecodeBatch(batch))
	assertClose(t, c.LogitsIth(lastA), la, "sequence 0")
	assertClose(t, c.LogitsIth(lastB), lb, "sequence 1")
	if c.LogitsIth(0) != nil {
		t.Fatal("logits kept for token 0")
	}
	if c.SeqPosMin(0) != 0 || c.SeqPosMax(0) != len(a)-1 || c.SeqPosMax(1) != len(b)-1 {
		t.Fatalf("positions %d %d %d", c.SeqPosMin(0), c.SeqPosMax(0), c.SeqPosMax(1))
	}
	// again without positions, every row kept
	mustNoErr(t, c.ClearKV())
	batch.Positions = nil
	batch.WantLogits = make([]bool, len(batch.Tokens))
	for i := range batch.WantLogits {
		batch.WantLogits[i] = true
	}
	mustNoErr(t, c.DecodeBatch(batch))
	assertClose(t, c.LogitsIth(lastA), la, "sequence 0, all rows")
	assertClose(t, c.LogitsIth(lastB), lb, "sequence 1, all rows")
	if err := c.DecodeBatch(Batch{Tokens: []int32{1}, SeqIDs: []int32{7}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("sequence 7: %v", err)
	}
}

func TestSeqCopyThenGreedyEqualsRecomputing(t *testing.T) {
	requires(t, "decode_batch", "logits_ith", "seq_copy", "seq_keep", "seq_shift", "seq_remove", "seq_pos_min", "seq_pos_max")
	m := loadModel(t, kjvModel)
	defer m.Close()
	a := tokenize(t, m, promptA)
	ref := newCtx(t, m, ContextOptions{NCtx: 128})
	mustNoErr(t, ref.Decode(a))
	want := greedyContinue(t, ref, 0, ref.Logits(), 8)
	ref.Close()

	c := newCtx(t, m, ContextOptions{NCtx: 128, NSeqMax: 3})
	defer c.Close()
	mustNoErr(t, c.DecodeBatch(Batch{Tokens: a}))
	first := c.LogitsIth(-1)
	mustNoErr(t, c.SeqCopy(0, 2, -1))
	if got := greedyContinue(t, c, 2, first, 8); !equalTokens(got, want) {
		t.Fatalf("after copy %v, want %v", got, want)
	}
	mustNoErr(t, c.SeqKeep(2))
	if c.SeqPosMax(0) != -1 || c.SeqPosMax(2) != len(a)-1+8 {
		t.Fatalf("after keep: %d %d", c.SeqPosMax(0), c.SeqPosMax(2))
	}
	mustNoErr(t, c.SeqShift(2, 0, -1, 5))
	if c.SeqPosMin(2) != 5 {
		t.Fatalf("after shift: %d", c.SeqPosMin(2))
	}
	mustNoErr(t, c.SeqRemove(2, 5, 7, true))
	if c.SeqPosMax(2) != len(a)-1+8+5-2 {
		t.Fatalf("after remove: %d", c.SeqPosMax(2))
	}
}

func TestLogprobs(t *testing.T) {
	requires(t, "logprobs")
	m := loadModel(t, kjvModel)
	defer m.Close()
	c := newCtx(t, m, ContextOptions{NCtx: 64})
	defer c.Close()
	mustNoErr(t, c.Decode(tokenize(t, m, promptA)))
	best := argmax(c.Logits())
	lp, top, err := c.Logprobs(-1, best, 4)
	mustNoErr(t, err)
	if len(top) != 4 || top[0].Token != best || math.Abs(float64(top[0].Logprob-lp)) > 1e-6 || lp > 0 {
		t.Fatalf("logprob %g top %v", lp, top)
	}
}

func TestStateSaveLoad(t *testing.T) {
	requires(t, "decode_batch", "logits_ith", "state_save", "state_load", "state_save_file", "state_load_file")
	m := loadModel(t, kjvModel)
	defer m.Close()
	a := tokenize(t, m, promptA)
	c := newCtx(t, m, ContextOptions{NCtx: 128})
	mustNoErr(t, c.Decode(a))
	state, err := c.StateSave(-1)
	mustNoErr(t, err)
	file := filepath.Join(t.TempDir(), "state.bin")
	mustNoErr(t, c.StateSaveFile(-1, file))
	want := greedyContinue(t, c, 0, c.Logits(), 8)
	c.Close()

	for _, fromFile := range []bool{false, true} {
		c2 := newCtx(t, m, ContextOptions{NCtx: 128})
		if fromFile {
			mustNoErr(t, c2.StateLoadFile(-1, file))
		} else {
			mustNoErr(t, c2.StateLoad(-1, state))
		}
		if c2.NPast() != len(a) {
			t.Fatalf("n_past %d after load", c2.NPast())
		}
		if got := greedyContinue(t, c2, 0, c2.Logits(), 8); !equalTokens(got, want) {
			t.Fatalf("after load (file %v): %v, want %v", fromFile, got, want)
		}
		c2.Close()
	}
	c3 := newCtx(t, m, ContextOptions{NCtx: 128})
	defer c3.Close()
	bad := append([]byte(nil), state...)
	bad[len(bad)/2] ^= 0x5A
	if err := c3.StateLoad(-1, bad); !errors.Is(err, ErrBadFormat) && !errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupted state: %v", err)
	}
	if err := c3.StateLoad(-1, state[:len(state)/3]); err == nil {
		t.Fatal("truncated state loaded")
	}
	if err := c3.StateLoadFile(-1, filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrIO) {
		t.Fatalf("missing file: %v", err)
	}
}

func genText(t *testing.T, c *Context, s *Sampler, prompt string, opts *GenerateOptions) string {
	t.Helper()
	var sb strings.Builder
	_, err := c.Generate(prompt, s, opts, func(p string, _ int32) bool { sb.WriteString(p); return true })
	mustNoErr(t, err)
	return sb.String()
}

func TestStopStringsFinishReasonAndTokenInfo(t *testing.T) {
	requires(t, "context_finish_reason")
	m := loadModel(t, kjvModel)
	defer m.Close()
	c := newCtx(t, m, ContextOptions{NCtx: 128})
	defer c.Close()
	s, _ := m.GreedySampler()
	defer s.Close()
	full := genText(t, c, s, promptA, &GenerateOptions{MaxTokens: 24})
	if r := c.FinishReason(); r != FinishMaxTokens && r != FinishEOG {
		t.Fatalf("finish %v", r)
	}
	stop := full[len(full)/2 : len(full)/2+3]
	mustNoErr(t, c.ClearKV())
	s.Reset()
	got := genText(t, c, s, promptA, &GenerateOptions{MaxTokens: 24, Stop: []string{"\x01never", stop}})
	if c.FinishReason() != FinishStopString || got != full[:strings.Index(full, stop)] {
		t.Fatalf("stop %q: got %q (%v), full %q", stop, got, c.FinishReason(), full)
	}

	mustNoErr(t, c.ClearKV())
	var infos []TokenInfo
	var toks []int32
	_, err := c.Generate(promptA, s, &GenerateOptions{MaxTokens: 5, NProbs: 3, OnToken: func(ti TokenInfo) { infos = append(infos, ti) }},
		func(_ string, tok int32) bool { toks = append(toks, tok); return false })
	mustNoErr(t, err)
	if c.FinishReason() != FinishCallback || len(infos) != 1 || infos[0].Token != toks[0] || len(infos[0].Top) != 3 || infos[0].Top[0].Token != toks[0] {
		t.Fatalf("finish %v infos %v toks %v", c.FinishReason(), infos, toks)
	}

	// a panic in OnToken does not cross C and comes back here
	mustNoErr(t, c.ClearKV())
	func() {
		defer func() {
			if r := recover(); r != "token boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		c.Generate(promptA, s, &GenerateOptions{MaxTokens: 5, OnToken: func(TokenInfo) { panic("token boom") }}, nil)
		t.Fatal("no panic")
	}()
}

func TestSamplerChooseAcceptFilter(t *testing.T) {
	requires(t, "sampler_choose", "sampler_accept", "sampler_set_filter")
	m := loadModel(t, kjvModel)
	defer m.Close()
	c := newCtx(t, m, ContextOptions{NCtx: 64})
	defer c.Close()
	s, _ := m.GreedySampler()
	defer s.Close()
	a := tokenize(t, m, promptA)
	mustNoErr(t, c.Decode(a))
	mustNoErr(t, s.Accept(a))
	best, err := s.Choose(c, -1)
	mustNoErr(t, err)
	if best != argmax(c.Logits()) {
		t.Fatalf("choose %d", best)
	}
	mustNoErr(t, s.SetFilter(func(l []float32) bool { l[best] = float32(math.Inf(-1)); return true }))
	if second, err := s.Choose(c, -1); err != nil || second == best {
		t.Fatalf("filtered choose %d %v", second, err)
	}
	mustNoErr(t, s.SetFilter(func([]float32) bool { return false }))
	if _, err := s.Choose(c, -1); !errors.Is(err, ErrCancelled) {
		t.Fatalf("failing filter: %v", err)
	}
	mustNoErr(t, s.SetFilter(func([]float32) bool { panic("filter boom") }))
	func() {
		defer func() {
			if r := recover(); r != "filter boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		s.Sample(c)
	}()
	mustNoErr(t, s.SetFilter(nil))
	if again, _ := s.Choose(c, -1); again != best {
		t.Fatalf("without filter %d", again)
	}
}

func TestVocabulary(t *testing.T) {
	requires(t, "model_special_token", "token_text", "token_score", "token_attr", "token_to_piece")
	m := loadModel(t, kjvModel)
	defer m.Close()
	if bos := m.SpecialToken(SpecialBOS); bos != m.BOS() {
		t.Fatalf("special BOS %d, BOS %d", bos, m.BOS())
	} else if bos >= 0 {
		text, ok := m.TokenText(bos)
		piece, err := m.TokenToPiece(bos, PieceSpecial)
		if !ok || err != nil || string(piece) != text || m.TokenAttr(bos)&TokenAttrControl == 0 {
			t.Fatalf("BOS text %q piece %q attr %x err %v", text, piece, m.TokenAttr(bos), err)
		}
	}
	text := "In the beginning God created the heaven and the earth."
	toks, err := m.Tokenize(text, false, false)
	mustNoErr(t, err)
	var joined []byte
	for i, tok := range toks {
		flags := PieceFlags(0)
		if i == 0 {
			flags = PieceLStrip
		}
		p, err := m.TokenToPiece(tok, flags)
		mustNoErr(t, err)
		joined = append(joined, p...)
		_ = m.TokenScore(tok)
	}
	if string(joined) != text {
		t.Fatalf("pieces %q", joined)
	}
	if _, ok := m.TokenText(int32(m.NVocab())); ok {
		t.Fatal("text of a token out of range")
	}
	if _, err := m.TokenToPiece(int32(m.NVocab()), 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("piece out of range: %v", err)
	}
}

func TestMetadataAndSizes(t *testing.T) {
	requires(t, "model_meta_count", "model_meta_key", "model_meta_info", "model_meta_int", "model_meta_float", "model_meta_string", "model_n_params", "model_tensor_bytes", "model_file_size", "model_description")
	m := loadModel(t, kjvModel)
	defer m.Close()
	keys, err := m.MetaKeys()
	mustNoErr(t, err)
	if len(keys) == 0 {
		t.Fatal("no keys")
	}
	for _, k := range keys {
		v, err := m.MetaValue(k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		info, _ := m.MetaInfo(k)
		if arr, ok := v.([]interface{}); ok && uint64(len(arr)) != info.Count {
			t.Fatalf("%s: %d of %d elements", k, len(arr), info.Count)
		}
	}
	if v, _ := m.MetaValue("general.architecture"); v != m.Architecture() {
		t.Fatalf("architecture %v", v)
	}
	if _, err := m.MetaValue("no.such.key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := m.MetaInt("general.architecture", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("string as int: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dataDir(t), "models", kjvModel))
	if m.NParams() == 0 || m.FileSize() != uint64(st.Size()) || m.TensorBytes() == 0 || m.TensorBytes() > m.FileSize() {
		t.Fatalf("sizes %d %d %d", m.NParams(), m.TensorBytes(), m.FileSize())
	}
	if d, err := m.Description(); err != nil || d == "" {
		t.Fatalf("description %q %v", d, err)
	}
}

func TestLoadProgressAndCancel(t *testing.T) {
	path := filepath.Join(dataDir(t), "models", kjvModel)
	var seen []float32
	m, err := LoadModel(path, &ModelOptions{UseMmap: true, Progress: func(f float32) bool { seen = append(seen, f); return true }})
	mustNoErr(t, err)
	m.Close()
	if len(seen) < 2 || seen[0] != 0 || seen[len(seen)-1] != 1 {
		t.Fatalf("progress %v", seen)
	}
	if _, err := LoadModel(path, &ModelOptions{UseMmap: true, Progress: func(float32) bool { return false }}); !errors.Is(err, ErrCancelled) {
		t.Fatalf("cancelled load: %v", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "progress boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		LoadModel(path, &ModelOptions{UseMmap: true, Progress: func(float32) bool { panic("progress boom") }})
	}()
}

// GenerateChan used to notice the end of its context.Context only in the piece callback: a
// long prompt was evaluated to the end first. Now the watcher cancels the call in flight.
func TestGenerateChanCancelsDuringThePrompt(t *testing.T) {
	m := loadModel(t, kjvModel)
	defer m.Close()
	c := newCtx(t, m, ContextOptions{NCtx: 2048, NBatch: 8, NThreads: 1})
	defer c.Close()
	s, _ := m.GreedySampler()
	defer s.Close()
	prompt := strings.Repeat("And God said, Let there be light: and there was light. ", 40)
	start := time.Now()
	_, err := c.Generate(prompt, s, &GenerateOptions{MaxTokens: 1}, nil)
	mustNoErr(t, err)
	full := time.Since(start)
	mustNoErr(t, c.ClearKV())

	cctx, cancel := context.WithTimeout(context.Background(), full/10)
	defer cancel()
	start = time.Now()
	pieces, errc := c.GenerateChan(cctx, prompt, s, &GenerateOptions{MaxTokens: 1})
	for range pieces {
		t.Error("a piece after the deadline")
	}
	err = <-errc
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if took > full/2 {
		t.Fatalf("not cancelled in the prompt: %v of %v", took, full)
	}
	if need("llamas_context_finish_reason") == nil && c.FinishReason() != FinishCancelled {
		t.Fatalf("finish %v", c.FinishReason())
	}
	// nothing carries over: the next call runs to the end
	mustNoErr(t, c.ClearKV())
	if _, err := c.Generate("In the beginning", s, &GenerateOptions{MaxTokens: 2}, nil); err != nil {
		t.Fatal(err)
	}
}
