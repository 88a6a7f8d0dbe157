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
        catch (LlamasNotFoundException e) { Check(e.Status == Status.NotFound && e.Message.Length > 0, "meta error"); } // since 0.2
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

    // ---- the 0.2 surface

    const string Kjv = "models/kjv-tiny-Q8_0.gguf";
    const string PromptA = "In the beginning God created";
    const string PromptB = "And the LORD said unto Moses,";

    static Context NewContext(Model m, int nCtx, int nSeqMax = 0)
    {
        var o = ContextOptions.Default;
        o.NCtx = nCtx;
        o.NSeqMax = nSeqMax;
        return m.CreateContext(o);
    }

    static int Argmax(float[] v)
    {
        int best = 0;
        for (int j = 1; j < v.Length; j++) if (v[j] > v[best]) best = j;
        return best;
    }

    static void CheckClose(float[] got, float[] want, string what)
    {
        Check(got != null && got.Length == want.Length, what + ": length");
        float scale = want.Max(x => Math.Abs(x)), worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - want[i]));
        // The library is deterministic: batch rows equal single-sequence rows bit for bit.
        Check(worst == 0, what + ": logits differ by " + worst + " (scale " + scale + ")");
    }

    static int[] GreedyContinue(Context ctx, int seq, float[] logits, int n)
    {
        var outp = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int t = Argmax(logits);
            outp.Add(t);
            ctx.DecodeBatch(new[] { t }, null, new[] { seq });
            logits = ctx.LogitsIth(-1);
        }
        return outp.ToArray();
    }

    static void Expect<T>(Action a, Func<T, bool> ok, string what) where T : Exception
    {
        try { a(); }
        catch (T e) { Check(ok(e), what + ": " + e.Message); return; }
        throw new Exception("no " + typeof(T).Name + ": " + what);
    }

    static void OptionStructsMatchTheHeader()
    {
        Check(System.Runtime.InteropServices.Marshal.SizeOf(typeof(ContextOptions)) == 32, "ContextOptions size");
        Check(System.Runtime.InteropServices.Marshal.SizeOf(typeof(SamplerOptions)) == 56, "SamplerOptions size");
        Check(System.Runtime.InteropServices.Marshal.OffsetOf(typeof(SamplerOptions), "Seed").ToInt32() == 48, "SamplerOptions.Seed offset");
        Check(System.Runtime.InteropServices.Marshal.OffsetOf(typeof(ContextOptions), "NSeqMax").ToInt32() == 24, "ContextOptions.NSeqMax offset");
        Check(System.Runtime.InteropServices.Marshal.SizeOf(typeof(TokenLogprob)) == 8, "TokenLogprob size");
    }

    static void BatchOfTwoInterleavedSequences()
    {
        using (var m = new Model(Data(Kjv)))
        {
            int[] a = m.Tokenize(PromptA), b = m.Tokenize(PromptB);
            float[] la, lb;
            using (var single = NewContext(m, 128))
            {
                single.Decode(a); la = single.Logits();
                single.ClearKv();
                single.Decode(b); lb = single.Logits();
            }
            var toks = new List<int>(); var seqs = new List<int>(); var pos = new List<int>();
            int lastA = 0, lastB = 0;
            for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
            {
                if (i < a.Length) { toks.Add(a[i]); seqs.Add(0); pos.Add(i); lastA = toks.Count - 1; }
                if (i < b.Length) { toks.Add(b[i]); seqs.Add(1); pos.Add(i); lastB = toks.Count - 1; }
            }
            using (var ctx = NewContext(m, 128, 2))
            {
                Check(ctx.NSeqMax == 2, "NSeqMax");
                ctx.DecodeBatch(toks.ToArray(), pos.ToArray(), seqs.ToArray());
                CheckClose(ctx.LogitsIth(lastA), la, "sequence 0");
                CheckClose(ctx.LogitsIth(lastB), lb, "sequence 1");
                Check(ctx.LogitsIth(0) == null, "row 0 not kept");
                Check(ctx.SeqPosMin(0) == 0 && ctx.SeqPosMax(0) == a.Length - 1 && ctx.SeqPosMax(1) == b.Length - 1, "positions");
                ctx.ClearKv();
                ctx.DecodeBatch(toks.ToArray(), null, seqs.ToArray(), toks.Select(_ => true).ToArray());
                CheckClose(ctx.LogitsIth(lastA), la, "sequence 0, all rows");
                CheckClose(ctx.LogitsIth(lastB), lb, "sequence 1, all rows");
                Expect<LlamasException>(() => ctx.DecodeBatch(new[] { 1 }, null, new[] { 9 }), e => e.Status == Status.InvalidArgument, "sequence 9");
            }
        }
    }

    static void SeqCopyThenGreedyEqualsRecomputing()
    {
        using (var m = new Model(Data(Kjv)))
        {
            int[] a = m.Tokenize(PromptA), want;
            using (var r = NewContext(m, 128)) { r.Decode(a); want = GreedyContinue(r, 0, r.Logits(), 8); }
            using (var ctx = NewContext(m, 128, 3))
            {
                ctx.DecodeBatch(a);
                float[] first = ctx.LogitsIth(-1);
                ctx.SeqCopy(0, 2);
                int[] got = GreedyContinue(ctx, 2, first, 8);
                Check(got.SequenceEqual(want), "after copy " + Show(got) + " want " + Show(want));
                ctx.SeqKeep(2);
                Check(ctx.SeqPosMax(0) == -1 && ctx.SeqPosMax(2) == a.Length - 1 + 8, "keep");
                ctx.SeqShift(2, 0, -1, 3);
                Check(ctx.SeqPosMin(2) == 3, "shift");
                ctx.SeqRemove(2, 3, 5, true);
                Check(ctx.SeqPosMax(2) == a.Length - 1 + 8 + 3 - 2, "remove");
            }
        }
    }

    static void LogprobsTopIsArgmax()
    {
        using (var m = new Model(Data(Kjv)))
        using (var ctx = NewContext(m, 64))
        {
            ctx.Decode(m.Tokenize(PromptA));
            int best = Argmax(ctx.Logits());
            var top = ctx.Logprobs(-1, 4);
            float lp = ctx.Logprob(-1, best);
            Check(top.Length == 4 && top[0].Token == best && Math.Abs(top[0].Logprob - lp) < 1e-6 && lp <= 0, "top");
        }
    }

    static void StateSaveLoad()
    {
        using (var m = new Model(Data(Kjv)))
        {
            int[] a = m.Tokenize(PromptA), want;
            byte[] state;
            string file = Path.Combine(Path.GetTempPath(), "llamas-cs-state-" + System.Diagnostics.Process.GetCurrentProcess().Id);
            using (var ctx = NewContext(m, 128))
            {
                ctx.Decode(a);
                state = ctx.SaveState();
                ctx.SaveStateFile(file);
                want = GreedyContinue(ctx, 0, ctx.Logits(), 8);
            }
            foreach (bool fromFile in new[] { false, true })
                using (var ctx = NewContext(m, 128))
                {
                    if (fromFile) ctx.LoadStateFile(file); else ctx.LoadState(state);
                    Check(ctx.NPast == a.Length, "n_past after load");
                    int[] got = GreedyContinue(ctx, 0, ctx.Logits(), 8);
                    Check(got.SequenceEqual(want), "after load " + Show(got));
                }
            using (var ctx = NewContext(m, 128))
            {
                var bad = (byte[])state.Clone();
                bad[bad.Length / 2] ^= 0x5A;
                Expect<LlamasException>(() => ctx.LoadState(bad), e => e.Status == Status.BadFormat || e is LlamasNotFoundException, "corrupted state");
                Expect<LlamasException>(() => ctx.LoadState(state.Take(state.Length / 3).ToArray()), e => true, "truncated state");
                Expect<LlamasException>(() => ctx.LoadStateFile(file + ".missing"), e => e.Status == Status.Io, "missing file");
            }
            File.Delete(file);
        }
    }

    static string GenText(Context ctx, Sampler s, GenerateOptions o)
    {
        var sb = new StringBuilder();
        ctx.Generate(PromptA, s, o, (p, t) => { sb.Append(p); return true; });
        return sb.ToString();
    }

    static void StopStringsFinishReasonTokenInfo()
    {
        using (var m = new Model(Data(Kjv)))
        using (var ctx = NewContext(m, 128))
        using (var s = m.CreateSampler(SamplerOptions.Greedy))
        {
            string full = GenText(ctx, s, new GenerateOptions { MaxTokens = 24 });
            Check(ctx.FinishReason == FinishReason.MaxTokens || ctx.FinishReason == FinishReason.Eog, "finish " + ctx.FinishReason);
            string stop = full.Substring(full.Length / 2, 3);
            ctx.ClearKv();
            string got = GenText(ctx, s, new GenerateOptions { MaxTokens = 24, Stop = new[] { "\u0001never", stop } });
            Check(ctx.FinishReason == FinishReason.StopString, "finish " + ctx.FinishReason);
            Check(got == full.Substring(0, full.IndexOf(stop, StringComparison.Ordinal)), "stopped text '" + got + "'");

            ctx.ClearKv();
            var infos = new List<TokenInfo>();
            var toks = new List<int>();
            ctx.Generate(PromptA, s, new GenerateOptions { MaxTokens = 5, NProbs = 3, OnToken = infos.Add }, (p, t) => { toks.Add(t); return toks.Count < 2; });
            Check(ctx.FinishReason == FinishReason.Callback, "finish " + ctx.FinishReason);
            Check(infos.Select(i => i.Token).SequenceEqual(toks), "token infos " + Show(infos.Select(i => i.Token)));
            Check(infos.All(i => i.Top.Length == 3 && i.Top[0].Token == i.Token), "top alternatives");

            ctx.ClearKv();
            Expect<InvalidOperationException>(() => ctx.Generate(PromptA, s, new GenerateOptions { MaxTokens = 5, OnToken = i => { throw new InvalidOperationException("token boom"); } }, null),
                e => e.Message == "token boom", "exception from OnToken");
            ctx.ClearKv();
            Check(ctx.Generate(PromptA, s, 2, (p, t) => true) == 2, "usable afterwards");
        }
    }

    static void SamplerChooseAcceptFilter()
    {
        using (var m = new Model(Data(Kjv)))
        using (var ctx = NewContext(m, 64))
        using (var s = m.CreateSampler(SamplerOptions.Greedy))
        {
            int[] a = m.Tokenize(PromptA);
            ctx.Decode(a);
            s.Accept(a);
            int best = s.Choose(ctx);
            Check(best == Argmax(ctx.Logits()), "choose");
            s.SetFilter(l => { l[best] = float.NegativeInfinity; return true; });
            Check(s.Choose(ctx, -1) != best, "filtered");
            s.SetFilter(l => false);
            Expect<LlamasException>(() => s.Choose(ctx), e => e.Status == Status.Cancelled, "failing filter");
            s.SetFilter(l => { throw new ArithmeticException("filter boom"); });
            Expect<ArithmeticException>(() => s.Sample(ctx), e => e.Message == "filter boom", "exception from the filter");
            s.SetFilter(null);
            Check(s.Choose(ctx) == best, "without filter");
        }
    }

    static void VocabularyPiecesRoundTrip()
    {
        using (var m = new Model(Data(Kjv)))
        {
            int? bos = m.SpecialToken(Special.Bos);
            Check(bos == m.Bos, "special BOS");
            if (bos != null)
            {
                Check((m.TokenAttr(bos.Value) & TokenAttr.Control) != 0, "BOS is control");
                Check(Encoding.UTF8.GetString(m.TokenToPiece(bos.Value, true)) == m.TokenText(bos.Value), "BOS piece");
            }
            string text = "In the beginning God created the heaven and the earth.";
            int[] toks = m.Tokenize(text, false);
            var bytes = new List<byte>();
            for (int i = 0; i < toks.Length; i++) { bytes.AddRange(m.TokenToPiece(toks[i], false, i == 0)); m.TokenScore(toks[i]); }
            Check(Encoding.UTF8.GetString(bytes.ToArray()) == text, "pieces '" + Encoding.UTF8.GetString(bytes.ToArray()) + "'");
            Check(m.TokenText(m.NVocab) == null, "text out of range");
            Expect<LlamasException>(() => m.TokenToPiece(m.NVocab), e => e.Status == Status.InvalidArgument, "piece out of range");
        }
    }

    static void MetadataEnumerationAndSizes()
    {
        using (var m = new Model(Data(Kjv)))
        {
            string[] keys = m.MetaKeys();
            Check(keys.Contains("general.architecture"), "architecture key");
            foreach (string k in keys)
            {
                object v = m.MetaValue(k);
                var arr = v as object[];
                if (arr != null) Check((ulong)arr.Length == m.MetaInfo(k).Count, k + ": element count");
            }
            Check((string)m.MetaValue("general.architecture") == m.Architecture, "architecture value");
            Expect<LlamasNotFoundException>(() => m.MetaValue("no.such.key"), e => e.Status == Status.NotFound, "missing key");
            Expect<LlamasException>(() => m.MetaInt("general.architecture"), e => e.Status == Status.InvalidArgument, "string as int");
            ulong size = (ulong)new FileInfo(Data(Kjv)).Length;
            Check(m.FileSize == size && m.NParams > 0 && m.TensorBytes > 0 && m.TensorBytes <= size, "sizes");
            Check(!string.IsNullOrEmpty(m.Description), "description");
        }
    }

    static void LoadProgressAndCancel()
    {
        var seen = new List<float>();
        using (new Model(Data(Kjv), true, 0, f => { seen.Add(f); return true; })) { }
        Check(seen.Count >= 2 && seen[0] == 0 && seen[seen.Count - 1] == 1, "progress " + string.Join(",", seen));
        Expect<LlamasException>(() => new Model(Data(Kjv), true, 0, f => false), e => e.Status == Status.Cancelled, "cancelled load");
        Expect<FormatException>(() => new Model(Data(Kjv), true, 0, f => { throw new FormatException("progress boom"); }), e => e.Message == "progress boom", "exception from progress");
    }

    // ---- structured output and tool calling

    // A tiny Hermes-like template: tool names in a header, calls in <tool_call> tags.
    const string HermesTemplate = "{%- if tools %}Tools:{% for tool in tools %} {{ tool.function.name }}{% endfor %}\n" +
        "Call one with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>\n" +
        "{% endif %}{% for message in messages %}<|im_start|>{{ message.role }}\n" +
        "{{ message.content }}<|im_end|>\n" +
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    const string WeatherTool = "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather in a city\", " +
        "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}]";
    const string SchemaA = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}";

    static void JsonSchemaToGrammar()
    {
        string g = Library.JsonSchemaToGrammar(SchemaA);
        Check(g.Contains("root ::="), "root rule in " + g);
        foreach (string bad in new[] { "{\"type\": ", "{\"type\": \"no-such-type\"}" })
            Expect<LlamasInvalidArgumentException>(() => Library.JsonSchemaToGrammar(bad), e => e.Status == Status.InvalidArgument && e.Message.Length > 0, "bad schema " + bad);
    }

    static void ChatTemplateWithTools()
    {
        string msgs = "[{\"role\": \"user\", \"content\": \"Weather in Paris?\"}]";
        string output = Library.ApplyChatTemplateJson(HermesTemplate, msgs, WeatherTool);
        Check(output.Contains("get_weather") && output.EndsWith("<|im_start|>assistant\n"), "rendered " + output);
        string noTools = Library.ApplyChatTemplateJson(HermesTemplate, msgs, null, false);
        Check(!noTools.Contains("get_weather"), "without tools " + noTools);
        Expect<LlamasInvalidArgumentException>(() => Library.ApplyChatTemplateJson(HermesTemplate, "[{\"role\": "), e => true, "bad messages JSON");

        var format = (Dictionary<string, object>)new Json(Library.ChatToolFormat(HermesTemplate)).Parse();
        Check((string)format["family"] == "hermes", "family " + format["family"]);
        Check((string)((List<object>)format["triggers"])[0] == "<tool_call>", "triggers");

        var reply = (Dictionary<string, object>)new Json(Library.ParseChatReply(HermesTemplate, "<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1}}</tool_call>")).Parse();
        var calls = (List<object>)reply["tool_calls"];
        Check(calls.Count == 1, "one call");
        var call = (Dictionary<string, object>)calls[0];
        Check((string)call["name"] == "f", "call name " + call["name"]);
        Check((double)((Dictionary<string, object>)call["arguments"])["x"] == 1, "call arguments");

        var required = (Dictionary<string, object>)new Json(Library.ChatToolCallGrammar(HermesTemplate, WeatherTool, ToolsFlags.Required)).Parse();
        Check(!(bool)required["lazy"] && ((string)required["grammar"]).Contains((string)required["root"] + " ::="), "required tool-call grammar");
        Expect<LlamasInvalidArgumentException>(() => Library.ChatToolCallGrammar(HermesTemplate, "[{\"type\": "), e => true, "bad tools JSON");

        using (var model = new Model(Data(Kjv)))
        {
            var optional = (Dictionary<string, object>)new Json(model.ChatToolCallGrammar(WeatherTool, ToolsFlags.None, HermesTemplate)).Parse();
            Check((bool)optional["lazy"] && (string)((List<object>)optional["triggers"])[0] == "<tool_call>", "optional tool-call grammar");
            Check(model.ApplyChatTemplateJson(msgs, WeatherTool, true, HermesTemplate) == output, "with a model");
            var plain = (Dictionary<string, object>)new Json(model.ParseChatReply("just text", HermesTemplate)).Parse();
            Check((string)plain["content"] == "just text" && ((List<object>)plain["tool_calls"]).Count == 0, "plain reply");
        }
    }


    static readonly System.Text.RegularExpressions.Regex ObjectWithIntegerA =
        new System.Text.RegularExpressions.Regex("^[ \\t\\n\\r]*\\{[ \\t\\n\\r]*\"a\"[ \\t\\n\\r]*:[ \\t\\n\\r]*-?(0|[1-9][0-9]*)[ \\t\\n\\r]*\\}[ \\t\\n\\r]*$");

    static void GrammarConstrainsSampledGeneration()
    {
        string g = Library.JsonSchemaToGrammar(SchemaA);
        Library.ValidateGrammar(g);
        using (var model = new Model(Data(Kjv)))
        {
            var co = ContextOptions.Default;
            co.NCtx = 256;
            using (var ctx = model.CreateContext(co))
                for (ulong seed = 1; seed <= 5; seed++)
                {
                    var so = SamplerOptions.Default;
                    so.Temperature = 1;
                    so.Seed = seed;
                    using (var sampler = model.CreateSampler(so))
                    {
                        sampler.SetGrammar(g, "root");
                        ctx.ClearKv();
                        var text = new StringBuilder();
                        ctx.Generate("In the beginning God created", sampler, 128, (piece, tok) => { text.Append(piece); return true; });
                        Check(ObjectWithIntegerA.IsMatch(text.ToString()), "seed " + seed + ": " + text);
                        Check(ctx.FinishReason == FinishReason.Eog, "seed " + seed + " finished by " + ctx.FinishReason);
                    }
                }
        }
    }

    // A forced tool call (ChatToolCallGrammar with ToolsFlags.Required) parses back as a call.
    static void ToolCallGrammarForcesACall()
    {
        string tool = "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\", " +
            "\"properties\": {\"n\": {\"type\": \"integer\"}}, \"required\": [\"n\"]}}}]";
        var g = (Dictionary<string, object>)new Json(Library.ChatToolCallGrammar(HermesTemplate, tool, ToolsFlags.Required)).Parse();
        using (var model = new Model(Data(Kjv)))
        {
            var co = ContextOptions.Default;
            co.NCtx = 640;
            using (var ctx = model.CreateContext(co))
                for (ulong seed = 1; seed <= 3; seed++)
                {
                    var so = SamplerOptions.Default;
                    so.Temperature = 1;
                    so.Seed = seed;
                    using (var sampler = model.CreateSampler(so))
                    {
                        sampler.SetGrammar((string)g["grammar"], (string)g["root"]);
                        ctx.ClearKv();
                        var text = new StringBuilder();
                        // The grammar bounds the call to about 330 characters: 512 tokens reach its end.
                        ctx.Generate("In the beginning God created", sampler, 512, (piece, tok) => { text.Append(piece); return true; });
                        Check(ctx.FinishReason == FinishReason.Eog, "seed " + seed + " finished by " + ctx.FinishReason);
                        var reply = (Dictionary<string, object>)new Json(Library.ParseChatReply(HermesTemplate, text.ToString())).Parse();
                        var calls = (List<object>)reply["tool_calls"];
                        Check(calls.Count == 1 && (string)((Dictionary<string, object>)calls[0])["name"] == "f", "seed " + seed + ": " + text);
                        Check(((Dictionary<string, object>)((Dictionary<string, object>)calls[0])["arguments"]).ContainsKey("n"), "arguments of seed " + seed);
                    }
                }
        }
    }

    static void GrammarErrorsManualLoopAndLazy()
    {
        string bad = "root ::= \"a\" |\nfoo ::= [a-";
        Expect<LlamasInvalidArgumentException>(() => Library.ValidateGrammar(bad), e => e.Message.Contains("line ") && e.Message.Contains("column"), "bad grammar");
        Expect<LlamasInvalidArgumentException>(() => Library.ValidateGrammar("root ::= other"), e => true, "undefined rule");
        Library.ValidateGrammar("start ::= \"yes\" | \"no\"", "start");
        using (var model = new Model(Data(Kjv)))
        using (var sampler = model.CreateSampler(SamplerOptions.Greedy))
        {
            Expect<LlamasInvalidArgumentException>(() => sampler.SetGrammar(bad), e => e.Message.Contains("line "), "SetGrammar(bad)");
            // Manual loop: prompt tokens to AcceptPrompt (the grammar is not advanced), kept
            // tokens to Accept; the grammar forces "yes" or "no".
            sampler.SetGrammar("root ::= \"yes\" | \"no\"");
            var co = ContextOptions.Default;
            co.NCtx = 128;
            using (var ctx = model.CreateContext(co))
            {
                int[] prompt = model.Tokenize("In the beginning God created");
                sampler.AcceptPrompt(prompt);
                ctx.Decode(prompt);
                var output = new List<int>();
                for (int i = 0; i < 8; i++)
                {
                    int tok = sampler.Choose(ctx);
                    if (model.IsEndOfGeneration(tok)) break;
                    sampler.Accept(new[] { tok });
                    output.Add(tok);
                    ctx.Decode(new[] { tok });
                }
                string text = model.Detokenize(output.ToArray(), true);
                Check(text == "yes" || text == "no", "yes|no gave " + text);
            }
            sampler.ClearGrammar();
            sampler.SetGrammarLazy("root ::= \"<call>\" [a-z]+ \"</call>\"", null, new[] { "<call>" });
            sampler.SetGrammarLazyPatterns("root ::= \"<call>\" [a-z]+ \"</call>\"", null, new[] { "^\\s*(<call>)" });
            Expect<LlamasInvalidArgumentException>(() => sampler.SetGrammarLazyPatterns("root ::= \"x\"", null, new[] { "(unclosed" }),
                e => true, "SetGrammarLazyPatterns(bad)");
            Expect<LlamasInvalidArgumentException>(() => sampler.SetGrammarLazy(bad, null, new[] { "x" }, new[] { 0 }), e => true, "SetGrammarLazy(bad)");
        }
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
            new KeyValuePair<string, Action>("option_structs_match_the_header", OptionStructsMatchTheHeader),
            new KeyValuePair<string, Action>("batch_of_two_interleaved_sequences", BatchOfTwoInterleavedSequences),
            new KeyValuePair<string, Action>("seq_copy_then_greedy_equals_recomputing", SeqCopyThenGreedyEqualsRecomputing),
            new KeyValuePair<string, Action>("logprobs_top_is_argmax", LogprobsTopIsArgmax),
            new KeyValuePair<string, Action>("state_save_load", StateSaveLoad),
            new KeyValuePair<string, Action>("stop_strings_finish_reason_token_info", StopStringsFinishReasonTokenInfo),
            new KeyValuePair<string, Action>("sampler_choose_accept_filter", SamplerChooseAcceptFilter),
            new KeyValuePair<string, Action>("vocabulary_pieces_round_trip", VocabularyPiecesRoundTrip),
            new KeyValuePair<string, Action>("metadata_enumeration_and_sizes", MetadataEnumerationAndSizes),
            new KeyValuePair<string, Action>("load_progress_and_cancel", LoadProgressAndCancel),
            new KeyValuePair<string, Action>("json_schema_to_grammar", JsonSchemaToGrammar),
            new KeyValuePair<string, Action>("chat_template_with_tools", ChatTemplateWithTools),
            new KeyValuePair<string, Action>("grammar_constrains_sampled_generation", GrammarConstrainsSampledGeneration),
            new KeyValuePair<string, Action>("grammar_errors_manual_loop_and_lazy", GrammarErrorsManualLoopAndLazy),
            new KeyValuePair<string, Action>("tool_call_grammar_forces_a_call", ToolCallGrammarForcesACall),
        };
        int passed = 0, failed = 0;
        foreach (var t in tests)
        {
            try { t.Value(); passed++; Console.WriteLine("ok   " + t.Key); }
            catch (Exception e) { failed++; Console.WriteLine("FAIL " + t.Key + ": " + e.GetType().Name + ": " + e.Message); }
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
