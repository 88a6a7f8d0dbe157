// Tests of the C# binding against the reference outputs; run by ../test.sh. Prints one line
// per test and a closing "N passed, N failed" line; the exit code is the number of failures.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Llamas;

static class Tests
{
    static string DataDir
    {
        get
        {
            string d = Environment.GetEnvironmentVariable("LLAMAS_TEST_DATA");
            if (string.IsNullOrEmpty(d))
                d = Path.Combine(AppDomain.CurrentDomain.BaseDirectory, "../../../../shared");
            if (!Directory.Exists(Path.Combine(d, "models")))
                throw new Exception("reference data not found at " + d + " (set LLAMAS_TEST_DATA)");
            return d;
        }
    }

    static string Data(string rel) { return Path.Combine(DataDir, rel); }

    static void Check(bool ok, string what) { if (!ok) throw new Exception("check failed: " + what); }

    static List<Dictionary<string, object>> ReadJsonl(string path)
    {
        return File.ReadAllLines(path, Encoding.UTF8).Where(l => l.Trim().Length > 0)
                   .Select(l => (Dictionary<string, object>)new Json(l).Parse()).ToList();
    }

    static int[] Ints(object o) { return ((List<object>)o).Select(x => (int)(double)x).ToArray(); }
    static double[] Doubles(object o) { return ((List<object>)o).Select(x => (double)x).ToArray(); }

    static string Show(IEnumerable<int> v) { return "[" + string.Join(",", v) + "]"; }

    static void GreedyGenerationMatchesReference()
    {
        var r = ReadJsonl(Data("reference/outputs/qwen2-Q8_0.jsonl"))[0];
        string prompt = (string)r["prompt"];
        int[] want = Ints(r["greedy"]).Take(16).ToArray();
        using (var model = new Model(Data("models/qwen2-Q8_0.gguf")))
        {
            Check(model.Tokenize(prompt).SequenceEqual(Ints(r["tokens"])), "prompt tokens " + Show(model.Tokenize(prompt)));
            var opts = ContextOptions.Default;
            opts.NCtx = 256;
            using (var ctx = model.CreateContext(opts))
            {
                var pieces = ctx.GeneratePieces(prompt, 16, SamplerOptions.Greedy).ToList();
                int[] got = pieces.Select(p => p.Token).ToArray();
                Check(got.SequenceEqual(want), "greedy " + Show(got) + " want " + Show(want));
                Check(string.Concat(pieces.Select(p => p.Text)) == model.Detokenize(want, true), "text of the pieces");
            }
        }
    }

    static void GreedyByArgmaxAndEarlyStop()
    {
        var r = ReadJsonl(Data("reference/outputs/qwen2-Q8_0.jsonl"))[0];
        int[] tokens = Ints(r["tokens"]);
        int[] want = Ints(r["greedy"]).Take(16).ToArray();
        using (var model = new Model(Data("models/qwen2-Q8_0.gguf")))
        using (var ctx = model.CreateContext())
        {
            Check(ctx.Logits() == null, "no logits before decode");
            ctx.Decode(tokens);
            var got = new List<int>();
            for (int i = 0; i < 16; i++)
            {
                float[] logits = ctx.Logits();
                Check(logits.Length == model.NVocab, "logits length");
                int best = 0;
                for (int j = 1; j < logits.Length; j++) if (logits[j] > logits[best]) best = j;
                got.Add(best);
                ctx.Decode(new[] { best });
            }
            Check(got.SequenceEqual(want), "argmax " + Show(got));
            Check(ctx.NPast == tokens.Length + 16, "n_past");

            // IEnumerable<string>: leaving the loop early stops generation; the context is
            // usable again afterwards.
            ctx.ClearKv();
            var first = new List<string>();
            foreach (string piece in ctx.Generate((string)r["prompt"], 100, SamplerOptions.Greedy))
            {
                first.Add(piece);
                if (first.Count == 3) break;
            }
            Check(first.Count == 3, "three pieces");
            Check(ctx.Generate(" and", 2, SamplerOptions.Greedy).Count() == 2, "generate after an early stop");
        }
    }

    static double Cosine(float[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += (double)a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    static void EmbeddingsMatchReference()
    {
        var refs = ReadJsonl(Data("reference/outputs/bert-F16.jsonl"));
        var prompts = File.ReadAllLines(Data("reference/embed_prompts.txt"), Encoding.UTF8)
                          .Where(l => l.Trim().Length > 0).Select(l => l.Replace("\\n", "\n").Replace("\\t", "\t")).ToList();
        Check(prompts.Count >= 5, "prompts");
        using (var model = new Model(Data("models/bert-F16.gguf")))
        {
            float[][] vecs = model.Embed(prompts);
            Check(vecs.Length == prompts.Count, "one vector per prompt");
            for (int i = 0; i < prompts.Count; i++)
            {
                var r = refs.First(x => (string)x["prompt"] == prompts[i]);
                double[] want = Doubles(r["embedding"]);
                Check(vecs[i].Length == want.Length, "length");
                double c = Cosine(vecs[i], want);
                Check(c >= 0.999, prompts[i] + ": cosine " + c);
            }
        }
    }

    static void MissingModelThrowsWithLibraryMessage()
    {
        try
        {
            using (new Model(Data("models/does-not-exist.gguf"))) { }
            throw new Exception("no exception");
        }
        catch (LlamasException e)
        {
            Check(e.Status == Status.Io, "status " + e.Status);
            Check(e.Message.Contains("does-not-exist.gguf"), "message: " + e.Message);
        }
    }

    static void ErrorsAndDisposal()
    {
        var model = new Model(Data("models/qwen2-Q8_0.gguf"));
        try { model.Meta("no.such.key"); throw new Exception("no exception"); }
        catch (LlamasException e) { Check(e.Status == Status.InvalidArgument && e.Message.Length > 0, "meta error"); }
        Check(model.Meta("general.architecture") == "qwen2", "architecture");
        var ctx = model.CreateContext();
        try { ctx.Decode(new[] { model.NVocab + 5 }); throw new Exception("no exception"); }
        catch (LlamasException e) { Check(e.Status == Status.InvalidArgument, "decode error " + e.Status); }
        // Disposing the model first: the context keeps it alive until it is disposed too.
        model.Dispose();
        try { var n = model.NVocab; throw new Exception("no exception " + n); }
        catch (ObjectDisposedException) { }
        ctx.Decode(new[] { 1 });
        ctx.Dispose();
        ctx.Dispose();
        model.Dispose();
    }

    static void CancelFromAnotherThread()
    {
        using (var model = new Model(Data("models/qwen2-Q8_0.gguf")))
        using (var ctx = model.CreateContext())
        using (var sampler = model.CreateSampler(SamplerOptions.Greedy))
        {
            int n = 0;
            try
            {
                ctx.Generate("Once upon a time", sampler, 200, (text, token) =>
                {
                    if (++n == 2)
                    {
                        var t = new System.Threading.Thread(ctx.Cancel);
                        t.Start();
                        t.Join();
                    }
                    return true;
                });
                throw new Exception("no exception");
            }
            catch (LlamasException e) { Check(e.Status == Status.Cancelled, "status " + e.Status); }
            Check(n >= 2 && n < 200, "pieces before the cancel: " + n);
            Check(ctx.Generate(" and", sampler, 2, (text, token) => true) == 2, "generate after a cancel");
        }
    }

    static long RssKiB()
    {
        foreach (string line in File.ReadAllLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:"))
                return long.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1]);
        throw new Exception("no VmRSS");
    }

    static void LoadFree100TimesDoesNotGrow()
    {
        string path = Data("models/qwen2-Q8_0.gguf");
        var opts = ContextOptions.Default;
        opts.NCtx = 64;
        Action cycle = () =>
        {
            using (var model = new Model(path))
            using (var ctx = model.CreateContext(opts))
                ctx.Decode(new[] { 1, 2, 3 });
        };
        for (int i = 0; i < 20; i++) cycle(); // JIT and GC warm-up
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = RssKiB();
        for (int i = 0; i < 100; i++) cycle();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long after = RssKiB();
        Console.WriteLine("  RSS {0} -> {1} KiB", before, after);
        Check(after - before < 8 * 1024, "RSS grew from " + before + " to " + after + " KiB");
    }

    static int Main()
    {
        var tests = new List<KeyValuePair<string, Action>>
        {
            new KeyValuePair<string, Action>("version", () => Check(Library.Version.Split('.').Length == 3, "version " + Library.Version)),
            new KeyValuePair<string, Action>("greedy_generation_matches_reference", GreedyGenerationMatchesReference),
            new KeyValuePair<string, Action>("greedy_by_argmax_and_early_stop", GreedyByArgmaxAndEarlyStop),
            new KeyValuePair<string, Action>("embeddings_match_reference", EmbeddingsMatchReference),
            new KeyValuePair<string, Action>("missing_model_throws_with_library_message", MissingModelThrowsWithLibraryMessage),
            new KeyValuePair<string, Action>("errors_and_disposal", ErrorsAndDisposal),
            new KeyValuePair<string, Action>("cancel_from_another_thread", CancelFromAnotherThread),
            new KeyValuePair<string, Action>("load_free_100_times_does_not_grow", LoadFree100TimesDoesNotGrow),
        };
        int passed = 0, failed = 0;
        foreach (var t in tests)
        {
            try { t.Value(); passed++; Console.WriteLine("ok   " + t.Key); }
            catch (Exception e) { failed++; Console.WriteLine("FAIL " + t.Key + ": " + e.Message); }
        }
        Console.WriteLine("{0} passed, {1} failed", passed, failed);
        return failed;
    }
}

/// <summary>A small JSON reader (objects, arrays, strings, numbers, literals) for the tests.</summary>
class Json
{
    readonly string s;
    int i;
    public Json(string text) { s = text; }

    public object Parse() { var v = Value(); Ws(); if (i != s.Length) throw new Exception("trailing JSON"); return v; }

    void Ws() { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }

    object Value()
    {
        Ws();
        char c = s[i];
        if (c == '{')
        {
            i++;
            var d = new Dictionary<string, object>();
            Ws();
            if (s[i] == '}') { i++; return d; }
            while (true)
            {
                Ws();
                string k = Str();
                Ws(); i++; // ':'
                d[k] = Value();
                Ws();
                if (s[i++] == '}') return d;
            }
        }
        if (c == '[')
        {
            i++;
            var a = new List<object>();
            Ws();
            if (s[i] == ']') { i++; return a; }
            while (true)
            {
                a.Add(Value());
                Ws();
                if (s[i++] == ']') return a;
            }
        }
        if (c == '"') return Str();
        if (s.Substring(i).StartsWith("true")) { i += 4; return true; }
        if (s.Substring(i).StartsWith("false")) { i += 5; return false; }
        if (s.Substring(i).StartsWith("null")) { i += 4; return null; }
        int start = i;
        while (i < s.Length && "+-.eE0123456789".IndexOf(s[i]) >= 0) i++;
        return double.Parse(s.Substring(start, i - start), CultureInfo.InvariantCulture);
    }

    string Str()
    {
        i++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            char c = s[i++];
            if (c == '"') return sb.ToString();
            if (c != '\\') { sb.Append(c); continue; }
            char e = s[i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'u': sb.Append((char)Convert.ToInt32(s.Substring(i, 4), 16)); i += 4; break; // surrogates pair up as UTF-16
                default: sb.Append(e); break;
            }
        }
    }
}
