package llamas

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func dataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LLAMAS_TEST_DATA")
	if dir == "" {
		dir = "../../../shared"
	}
	if _, err := os.Stat(filepath.Join(dir, "models")); err != nil {
		t.Fatalf("reference data not found at %s (set LLAMAS_TEST_DATA): %v", dir, err)
	}
	return dir
}

type refLine struct {
	Prompt    string    `json:"prompt"`
	Tokens    []int32   `json:"tokens"`
	Greedy    []int32   `json:"greedy"`
	Embedding []float64 `json:"embedding"`
}

func readJSONL(t *testing.T, path string) []refLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []refLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l refLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadModel(t *testing.T, name string) *Model {
	t.Helper()
	m, err := LoadModel(filepath.Join(dataDir(t), "models", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalTokens(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVersion(t *testing.T) {
	v, err := Version()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(v, ".") != 2 {
		t.Fatalf("version %q", v)
	}
}

func TestGreedyGenerationMatchesReference(t *testing.T) {
	ref := readJSONL(t, filepath.Join(dataDir(t), "reference/outputs/qwen2-Q8_0.jsonl"))[0]
	want := ref.Greedy[:16]
	m := loadModel(t, "qwen2-Q8_0.gguf")
	defer m.Close()
	toks, err := m.Tokenize(ref.Prompt, true, false)
	if err != nil || !equalTokens(toks, ref.Tokens) {
		t.Fatalf("tokens %v (%v), want %v", toks, err, ref.Tokens)
	}
	ctx, err := m.NewContext(&ContextOptions{NCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	s, err := m.GreedySampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opts := GenerateOptions{MaxTokens: 16}
	var got []int32
	var text strings.Builder
	n, err := ctx.Generate(ref.Prompt, s, &opts, func(piece string, token int32) bool {
		got = append(got, token)
		text.WriteString(piece)
		return true
	})
	if err != nil || n != 16 {
		t.Fatalf("generate: n=%d err=%v", n, err)
	}
	if !equalTokens(got, want) {
		t.Fatalf("greedy %v, want %v", got, want)
	}
	if expect, _ := m.Detokenize(want, true); text.String() != expect {
		t.Fatalf("text %q, want %q", text.String(), expect)
	}
}

func TestGreedyByArgmaxAndChannel(t *testing.T) {
	ref := readJSONL(t, filepath.Join(dataDir(t), "reference/outputs/qwen2-Q8_0.jsonl"))[0]
	m := loadModel(t, "qwen2-Q8_0.gguf")
	defer m.Close()
	ctx, err := m.NewContext(&ContextOptions{NCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if ctx.Logits() != nil {
		t.Fatal("logits before any decode")
	}
	if err := ctx.Decode(ref.Tokens); err != nil {
		t.Fatal(err)
	}
	var got []int32
	for i := 0; i < 16; i++ {
		logits := ctx.Logits()
		best := 0
		for j, v := range logits {
			if v > logits[best] {
				best = j
			}
		}
		got = append(got, int32(best))
		if err := ctx.Decode([]int32{int32(best)}); err != nil {
			t.Fatal(err)
		}
	}
	if !equalTokens(got, ref.Greedy[:16]) {
		t.Fatalf("argmax %v, want %v", got, ref.Greedy[:16])
	}

	// The channel form, stopped early by cancelling the Go context.
	if err := ctx.ClearKV(); err != nil {
		t.Fatal(err)
	}
	s, _ := m.GreedySampler()
	defer s.Close()
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pieces, errc := ctx.GenerateChan(cctx, ref.Prompt, s, nil)
	var first []int32
	for p := range pieces {
		first = append(first, p.Token)
		if len(first) == 3 {
			cancel()
		}
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if len(first) < 3 || !equalTokens(first[:3], ref.Greedy[:3]) {
		t.Fatalf("channel pieces %v", first)
	}
}

func cosine(a []float32, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * b[i]
		na += float64(a[i]) * float64(a[i])
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}

func TestEmbeddingsMatchReference(t *testing.T) {
	dir := dataDir(t)
	refs := readJSONL(t, filepath.Join(dir, "reference/outputs/bert-F16.jsonl"))
	byPrompt := map[string][]float64{}
	for _, r := range refs {
		byPrompt[r.Prompt] = r.Embedding
	}
	raw, err := os.ReadFile(filepath.Join(dir, "reference/embed_prompts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var prompts []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.TrimSpace(line) != "" {
			prompts = append(prompts, strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(line))
		}
	}
	if len(prompts) < 5 {
		t.Fatalf("only %d prompts", len(prompts))
	}
	m := loadModel(t, "bert-F16.gguf")
	defer m.Close()
	vecs, err := m.Embed(prompts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		ref, ok := byPrompt[p]
		if !ok {
			t.Fatalf("no reference for %q", p)
		}
		if len(vecs[i]) != len(ref) {
			t.Fatalf("%q: length %d, want %d", p, len(vecs[i]), len(ref))
		}
		if c := cosine(vecs[i], ref); c < 0.999 {
			t.Errorf("%q: cosine %.5f", p, c)
		}
	}
}

func TestMissingModelIsAnErrorWithTheLibraryMessage(t *testing.T) {
	path := filepath.Join(dataDir(t), "models", "does-not-exist.gguf")
	m, err := LoadModel(path, nil)
	if err == nil || m != nil {
		t.Fatal("expected an error")
	}
	var le *Error
	if !errors.As(err, &le) || le.Status != StatusIO || !errors.Is(err, ErrIO) {
		t.Fatalf("error %#v", err)
	}
	if !strings.Contains(err.Error(), "does-not-exist.gguf") {
		t.Fatalf("message %q does not name the file", err.Error())
	}
}

func TestErrorsAndClose(t *testing.T) {
	m := loadModel(t, "qwen2-Q8_0.gguf")
	if _, err := m.Meta("no.such.key"); !errors.Is(err, ErrNotFound) { // since 0.2 (was INVALID_ARGUMENT)
		t.Fatalf("meta error %v", err)
	}
	if a, err := m.Meta("general.architecture"); err != nil || a != "qwen2" {
		t.Fatalf("architecture %q %v", a, err)
	}
	ctx, err := m.NewContext(&ContextOptions{NCtx: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.Decode([]int32{int32(m.NVocab() + 5)}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("decode error %v", err)
	}
	// Closing the model first only frees it when the context is closed too.
	m.Close()
	if _, err := m.NewContext(nil); err != ErrClosed {
		t.Fatalf("context on a closed model: %v", err)
	}
	if err := ctx.Decode([]int32{1}); err != nil {
		t.Fatalf("decode after model.Close with the context open: %v", err)
	}
	ctx.Close()
	ctx.Close()
	m.Close()
}

func rssKiB(t *testing.T) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.Atoi(strings.Fields(line)[1])
			return v
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func TestLoadFree100TimesDoesNotGrow(t *testing.T) {
	path := filepath.Join(dataDir(t), "models", "qwen2-Q8_0.gguf")
	cycle := func() {
		m, err := LoadModel(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := m.NewContext(&ContextOptions{NCtx: 64})
		if err != nil {
			t.Fatal(err)
		}
		if err := ctx.Decode([]int32{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		ctx.Close()
		m.Close()
	}
	for i := 0; i < 3; i++ {
		cycle()
	}
	runtime.GC()
	before := rssKiB(t)
	for i := 0; i < 100; i++ {
		cycle()
	}
	runtime.GC()
	after := rssKiB(t)
	if after-before > 8*1024 {
		t.Fatalf("RSS grew from %d to %d KiB", before, after)
	}
	t.Logf("RSS %d -> %d KiB", before, after)
}

func TestCancelFromAnotherGoroutine(t *testing.T) {
	m := loadModel(t, "qwen2-Q8_0.gguf")
	defer m.Close()
	ctx, err := m.NewContext(&ContextOptions{NCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	s, _ := m.GreedySampler()
	defer s.Close()
	n := 0
	_, err = ctx.Generate("Once upon a time", s, &GenerateOptions{MaxTokens: 200}, func(string, int32) bool {
		n++
		if n == 2 {
			done := make(chan struct{})
			go func() { ctx.Cancel(); close(done) }()
			<-done
		}
		return true
	})
	if !errors.Is(err, ErrCancelled) || n < 2 || n >= 200 {
		t.Fatalf("err %v after %d pieces", err, n)
	}
	// The flag cleared when the call returned.
	if _, err := ctx.Generate(" and", s, &GenerateOptions{MaxTokens: 2}, func(string, int32) bool { return true }); err != nil {
		t.Fatal(err)
	}
}
