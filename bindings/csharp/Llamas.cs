// C# binding of llamas, an embeddable CPU inference engine for GGUF models.
//
//   using (var model = new Model("qwen2-Q8_0.gguf"))
//   using (var ctx = model.CreateContext())
//       foreach (string piece in ctx.Generate("Once upon a time", 16, SamplerOptions.Greedy))
//           Console.Write(piece);
//
// The library is loaded at run time from $LLAMAS_LIBRARY, else libllamas.so.0 on the system
// search path (see Native.cs).
using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace Llamas
{
    /// <summary>llamas_status codes.</summary>
    public enum Status
    {
        Ok = 0, InvalidArgument = 1, Io = 2, BadFormat = 3, Unsupported = 4, OutOfMemory = 5,
        ContextFull = 6, Cancelled = 7, Internal = 8, BufferTooSmall = 9
    }

    /// <summary>A failed llamas call; Message is the library's message.</summary>
    public class LlamasException : Exception
    {
        public Status Status { get; private set; }
        public LlamasException(Status status, string message) : base(message) { Status = status; }
    }

    public enum KvType { F16 = 0, F32 = 1, Q8_0 = 2 }
    public enum Pooling { Model = -1, Mean = 1, Cls = 2, Last = 3 }

    /// <summary>The library as a whole.</summary>
    public static class Library
    {
        // Each entry point loads the library, then calls a non-inlined method (see Native.cs).
        public static string Version { get { Native.EnsureLoaded(); return VersionCore(); } }
        public static string CpuPath { get { Native.EnsureLoaded(); return CpuPathCore(); } }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static string VersionCore() { return Native.FromUtf8(Native.llamas_version()); }
        [MethodImpl(MethodImplOptions.NoInlining)]
        static string CpuPathCore() { return Native.FromUtf8(Native.llamas_cpu_path()); }

        /// <summary>Renders messages in the ChatML format.</summary>
        public static string ApplyChatML(IList<ChatMessage> messages, bool addGenerationPrompt = true)
        {
            Native.EnsureLoaded();
            return ApplyChatMLCore(messages, addGenerationPrompt);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static string ApplyChatMLCore(IList<ChatMessage> messages, bool addGenerationPrompt)
        {
            using (var m = new NativeMessages(messages))
                return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) =>
                    Native.llamas_chat_apply_chatml(m.Array, (UIntPtr)messages.Count, addGenerationPrompt ? 1 : 0, b, c, out l));
        }
    }

    // ---- handles: each frees its C object exactly once; children keep their model alive ----

    public sealed class ModelHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public ModelHandle() : base(true) { }
        protected override bool ReleaseHandle() { Native.llamas_model_free(handle); return true; }
    }

    /// <summary>A handle that holds a reference on its model's handle until it is released.</summary>
    public abstract class ModelChildHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        ModelHandle owner;
        protected ModelChildHandle() : base(true) { }

        internal void Own(ModelHandle model)
        {
            bool added = false;
            model.DangerousAddRef(ref added);
            owner = model;
        }

        protected abstract void Free(IntPtr h);

        protected override bool ReleaseHandle()
        {
            Free(handle);
            if (owner != null) owner.DangerousRelease();
            return true;
        }
    }

    public sealed class ContextHandle : ModelChildHandle
    {
        protected override void Free(IntPtr h) { Native.llamas_context_free(h); }
    }

    public sealed class SamplerHandle : ModelChildHandle
    {
        protected override void Free(IntPtr h) { Native.llamas_sampler_free(h); }
    }

    // ---- options ----

    /// <summary>Context options; start from ContextOptions.Default (the library's defaults).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ContextOptions
    {
        UIntPtr structSize;
        /// <summary>Context length in tokens; 0: the model's, at most 4096.</summary>
        public int NCtx;
        public int NBatch;
        /// <summary>Worker threads; 0: all cores.</summary>
        public int NThreads;
        public KvType KvType;

        public static ContextOptions Default { get { Native.EnsureLoaded(); return DefaultCore(); } }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static ContextOptions DefaultCore() { ContextOptions o; Native.llamas_context_options_init(out o); return o; }
    }

    /// <summary>Sampling options; start from SamplerOptions.Default or SamplerOptions.Greedy.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SamplerOptions
    {
        UIntPtr structSize;
        /// <summary>&lt;= 0: greedy.</summary>
        public float Temperature;
        public int TopK;
        public float TopP;
        public float MinP;
        public float TypicalP;
        public float RepeatPenalty;
        public float FrequencyPenalty;
        public float PresencePenalty;
        public int PenaltyLastN;
        public ulong Seed;

        public static SamplerOptions Default { get { Native.EnsureLoaded(); return DefaultCore(); } }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static SamplerOptions DefaultCore() { SamplerOptions o; Native.llamas_sampler_options_init(out o); return o; }

        public static SamplerOptions Greedy
        {
            get { var o = Default; o.Temperature = 0; return o; }
        }
    }

    public struct ChatMessage
    {
        public string Role, Content;
        public ChatMessage(string role, string content) { Role = role; Content = content; }
    }

    /// <summary>Chat messages copied to unmanaged UTF-8 strings for one call.</summary>
    sealed class NativeMessages : IDisposable
    {
        public readonly ChatMessageNative[] Array;
        public NativeMessages(IList<ChatMessage> messages)
        {
            Array = new ChatMessageNative[Math.Max(1, messages.Count)];
            for (int i = 0; i < messages.Count; i++)
            {
                Array[i].Role = Alloc(messages[i].Role);
                Array[i].Content = Alloc(messages[i].Content);
            }
        }
        internal static IntPtr Alloc(string s)
        {
            byte[] b = Native.Utf8(s ?? "");
            IntPtr p = Marshal.AllocHGlobal(b.Length);
            Marshal.Copy(b, 0, p, b.Length);
            return p;
        }
        public void Dispose()
        {
            foreach (var m in Array)
            {
                if (m.Role != IntPtr.Zero) Marshal.FreeHGlobal(m.Role);
                if (m.Content != IntPtr.Zero) Marshal.FreeHGlobal(m.Content);
            }
        }
    }

    // ---- model ----

    /// <summary>A loaded GGUF model. Immutable: any number of threads may use it at once.
    /// Dispose frees it once its contexts and samplers are disposed too.</summary>
    public sealed class Model : IDisposable
    {
        internal readonly ModelHandle Handle;

        /// <summary>Loads and validates a GGUF model; throws LlamasException on failure.</summary>
        public Model(string path, bool useMmap = true)
        {
            Native.EnsureLoaded();
            Handle = Load(path, useMmap);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static ModelHandle Load(string path, bool useMmap)
        {
            ModelHandle handle;
            ModelOptionsNative o;
            Native.llamas_model_options_init(out o);
            o.UseMmap = useMmap ? 1 : 0;
            int status = Native.llamas_model_load(Native.Utf8(path), ref o, out handle);
            if (status != 0)
            {
                var error = Native.Error(status);
                handle.Dispose();
                throw error;
            }
            return handle;
        }

        volatile bool disposed;

        /// <summary>Frees the model now, or when its last context/sampler is disposed.</summary>
        public void Dispose() { disposed = true; Handle.Dispose(); }

        ModelHandle H
        {
            get { if (disposed) throw new ObjectDisposedException("Model"); return Handle; }
        }

        internal void ThrowIfDisposed() { if (disposed) throw new ObjectDisposedException("Model"); }

        public string Architecture { get { return Native.FromUtf8(Native.llamas_model_architecture(H)); } }
        public int NVocab { get { return Native.llamas_model_n_vocab(H); } }
        public int NCtxTrain { get { return Native.llamas_model_n_ctx_train(H); } }
        public int NEmbd { get { return Native.llamas_model_n_embd(H); } }
        public int NEmbdOut { get { return Native.llamas_model_n_embd_out(H); } }
        /// <summary>The BOS token, or null.</summary>
        public int? Bos { get { int t = Native.llamas_model_bos(H); return t < 0 ? (int?)null : t; } }
        /// <summary>The EOS token, or null.</summary>
        public int? Eos { get { int t = Native.llamas_model_eos(H); return t < 0 ? (int?)null : t; } }
        public bool IsEndOfGeneration(int token) { return Native.llamas_model_is_eog(H, token) != 0; }
        /// <summary>The chat template, or null when the model has none.</summary>
        public string ChatTemplate { get { return Native.FromUtf8(Native.llamas_model_chat_template(H)); } }

        /// <summary>Any metadata value as text; LlamasException when the key is absent.</summary>
        public string Meta(string key)
        {
            var h = H;
            byte[] k = Native.Utf8(key);
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_model_meta(h, k, b, c, out l));
        }

        public int[] Tokenize(string text, bool addSpecial = true, bool parseSpecial = false)
        {
            byte[] bytes = Native.Utf8(text);
            int n = bytes.Length - 1;
            int flags = (addSpecial ? 1 : 0) | (parseSpecial ? 2 : 0);
            int capacity = n + 8;
            while (true)
            {
                int[] toks = new int[capacity];
                UIntPtr count;
                int status = Native.llamas_tokenize(H, bytes, (UIntPtr)n, flags, toks, (UIntPtr)capacity, out count);
                int c = (int)count.ToUInt64();
                if (status == 0)
                {
                    Array.Resize(ref toks, c);
                    return toks;
                }
                if (status != (int)Status.BufferTooSmall) throw Native.Error(status);
                capacity = c;
            }
        }

        public string Detokenize(int[] tokens, bool skipSpecial = false)
        {
            var h = H;
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) =>
                Native.llamas_detokenize(h, tokens, (UIntPtr)tokens.Length, skipSpecial ? 1 : 0, b, c, out l));
        }

        /// <summary>Renders messages with the model's chat template.</summary>
        public string ApplyChatTemplate(IList<ChatMessage> messages, bool addGenerationPrompt = true)
        {
            var h = H;
            using (var m = new NativeMessages(messages))
                return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) =>
                    Native.llamas_chat_apply_template(h, null, m.Array, (UIntPtr)messages.Count, addGenerationPrompt ? 1 : 0, b, c, out l));
        }

        public Context CreateContext() { return new Context(this, ContextOptions.Default); }
        public Context CreateContext(ContextOptions options) { return new Context(this, options); }
        public Sampler CreateSampler(SamplerOptions options) { return new Sampler(this, options); }

        /// <summary>Embeds texts in a temporary context (normalized, the model's pooling).</summary>
        public float[][] Embed(IList<string> texts)
        {
            using (var ctx = CreateContext()) return ctx.Embed(texts);
        }
    }

    /// <summary>Picks tokens from a context's logits. One thread at a time.</summary>
    public sealed class Sampler : IDisposable
    {
        internal readonly SamplerHandle Handle;

        public Sampler(Model model, SamplerOptions options)
        {
            model.ThrowIfDisposed();
            int status = Native.llamas_sampler_create(model.Handle, ref options, out Handle);
            if (status != 0) { var e = Native.Error(status); Handle.Dispose(); throw e; }
            Handle.Own(model.Handle);
        }

        public void Dispose() { Handle.Dispose(); }

        public int Sample(Context context)
        {
            int tok;
            Native.Check(Native.llamas_sample(Handle, context.Handle, out tok));
            return tok;
        }

        /// <summary>Adds bias to a token's logit before sampling (-Infinity bans it).</summary>
        public void SetLogitBias(int token, float bias) { Native.Check(Native.llamas_sampler_set_logit_bias(Handle, token, bias)); }
        public void Reset() { Native.llamas_sampler_reset(Handle); }
    }

    /// <summary>A generated piece of text and the token it came from.</summary>
    public struct Piece
    {
        public readonly string Text;
        public readonly int Token;
        public Piece(string text, int token) { Text = text; Token = token; }
        public override string ToString() { return Text; }
    }

    /// <summary>One conversation's state (KV cache). One thread at a time, Cancel excepted.</summary>
    public sealed class Context : IDisposable
    {
        internal readonly ContextHandle Handle;
        readonly Model model;

        public Context(Model model, ContextOptions options)
        {
            model.ThrowIfDisposed();
            this.model = model;
            int status = Native.llamas_context_create(model.Handle, ref options, out Handle);
            if (status != 0) { var e = Native.Error(status); Handle.Dispose(); throw e; }
            Handle.Own(model.Handle);
        }

        public void Dispose() { Handle.Dispose(); }

        public Model Model { get { return model; } }
        public int NCtx { get { return Native.llamas_context_n_ctx(Handle); } }
        /// <summary>Number of tokens in the KV cache.</summary>
        public int NPast { get { return Native.llamas_context_n_past(Handle); } }

        /// <summary>Evaluates tokens after those already in the cache.</summary>
        public void Decode(int[] tokens) { Native.Check(Native.llamas_decode(Handle, tokens, (UIntPtr)tokens.Length)); }

        /// <summary>A copy of the logits after the last evaluated token (null before any decode).</summary>
        public float[] Logits()
        {
            IntPtr p = Native.llamas_logits(Handle);
            if (p == IntPtr.Zero) return null;
            float[] v = new float[model.NVocab];
            Marshal.Copy(p, v, 0, v.Length);
            return v;
        }

        public void ClearKv() { Native.Check(Native.llamas_kv_clear(Handle)); }
        public void RemoveKv(int p0, int p1 = -1) { Native.Check(Native.llamas_kv_remove(Handle, p0, p1)); }
        public void KeepShiftKv(int nKeep, int nDiscard) { Native.Check(Native.llamas_kv_keep_shift(Handle, nKeep, nDiscard)); }
        /// <summary>Makes the running (or next) call return Status.Cancelled; any thread.</summary>
        public void Cancel() { Native.llamas_context_cancel(Handle); }

        /// <summary>Generates with a callback: onPiece(text, token) returns false to stop.
        /// Returns the number of tokens generated.</summary>
        public int Generate(string prompt, Sampler sampler, int maxTokens, Func<string, int, bool> onPiece,
                            bool parseSpecial = false, bool skipSpecial = true)
        {
            GenerateOptionsNative o;
            Native.llamas_generate_options_init(out o);
            o.MaxTokens = maxTokens;
            o.ParseSpecial = parseSpecial ? 1 : 0;
            o.SkipSpecial = skipSpecial ? 1 : 0;
            Exception thrown = null;
            Native.PieceCallback cb = (IntPtr piece, UIntPtr length, int token, IntPtr user) =>
            {
                try { return onPiece(Native.FromUtf8(piece, (int)length.ToUInt64()), token) ? 0 : 1; }
                catch (Exception e) { thrown = e; return 1; } // never unwind through C frames
            };
            int n;
            int status = Native.llamas_generate(Handle, sampler.Handle, Native.Utf8(prompt), ref o, cb, IntPtr.Zero, out n);
            GC.KeepAlive(cb);
            if (thrown != null) throw thrown;
            Native.Check(status);
            return n;
        }

        /// <summary>Streams the generated text piece by piece. Nothing is generated ahead of what
        /// the caller consumes; leaving the loop early stops the generation.</summary>
        public IEnumerable<string> Generate(string prompt, int maxTokens, SamplerOptions sampling)
        {
            foreach (Piece p in GeneratePieces(prompt, maxTokens, sampling)) yield return p.Text;
        }

        /// <summary>As Generate, with each piece's token id.</summary>
        public IEnumerable<Piece> GeneratePieces(string prompt, int maxTokens, SamplerOptions sampling)
        {
            using (var sampler = new Sampler(model, sampling))
                foreach (Piece p in GeneratePieces(prompt, maxTokens, sampler)) yield return p;
        }

        /// <summary>As Generate, with a sampler of the caller's.</summary>
        public IEnumerable<Piece> GeneratePieces(string prompt, int maxTokens, Sampler sampler)
        {
            // The C call drives generation through a callback; it runs on a worker thread in
            // lock-step with this iterator (one piece handed over at a time).
            var ready = new SemaphoreSlim(0);
            var resume = new SemaphoreSlim(0);
            Piece slot = default(Piece);
            bool done = false, stop = false;
            Exception error = null;
            var worker = new Thread(() =>
            {
                try
                {
                    Generate(prompt, sampler, maxTokens, (text, token) =>
                    {
                        slot = new Piece(text, token);
                        ready.Release();
                        resume.Wait();
                        return !Volatile.Read(ref stop);
                    });
                }
                catch (Exception e) { error = e; }
                finally { Volatile.Write(ref done, true); ready.Release(); }
            });
            worker.IsBackground = true;
            worker.Start();
            bool finished = false;
            try
            {
                while (true)
                {
                    ready.Wait();
                    if (Volatile.Read(ref done)) { finished = true; break; }
                    yield return slot;
                    resume.Release();
                }
            }
            finally
            {
                if (!finished)
                {
                    Volatile.Write(ref stop, true);
                    resume.Release();
                    while (true) { ready.Wait(); if (Volatile.Read(ref done)) break; resume.Release(); }
                }
                worker.Join();
            }
            if (error != null) throw error;
        }

        /// <summary>One embedding per text. Clears the KV cache.</summary>
        public float[][] Embed(IList<string> texts, bool normalize = true, Pooling pooling = Pooling.Model, int dims = 0)
        {
            EmbedOptionsNative o;
            Native.llamas_embed_options_init(out o);
            o.Normalize = normalize ? 1 : 0;
            o.Pooling = (int)pooling;
            o.Dims = dims;
            int width = dims > 0 ? dims : model.NEmbdOut;
            IntPtr[] ptrs = new IntPtr[Math.Max(1, texts.Count)];
            try
            {
                for (int i = 0; i < texts.Count; i++) ptrs[i] = NativeMessages.Alloc(texts[i]);
                float[] flat = new float[Math.Max(1, width * texts.Count)];
                Native.Check(Native.llamas_embed(Handle, ptrs, (UIntPtr)texts.Count, ref o, flat, (UIntPtr)(width * texts.Count)));
                var result = new float[texts.Count][];
                for (int i = 0; i < texts.Count; i++)
                {
                    result[i] = new float[width];
                    Array.Copy(flat, i * width, result[i], 0, width);
                }
                return result;
            }
            finally
            {
                foreach (IntPtr p in ptrs) if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }
    }
}
