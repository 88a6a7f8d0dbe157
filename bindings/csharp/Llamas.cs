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
        ContextFull = 6, Cancelled = 7, Internal = 8, BufferTooSmall = 9, NotFound = 10
    }

    /// <summary>A failed llamas call; Message is the library's message.</summary>
    public class LlamasException : Exception
    {
        public Status Status { get; private set; }
        public LlamasException(Status status, string message) : base(message) { Status = status; }
    }

    /// <summary>Status.NotFound: a metadata key, sequence or file entry that does not exist.</summary>
    public class LlamasNotFoundException : LlamasException
    {
        public LlamasNotFoundException(string message) : base(Status.NotFound, message) { }
    }

    /// <summary>Status.InvalidArgument: a bad argument, JSON, schema or grammar (the message says
    /// where: a grammar's "line L, column C: ...").</summary>
    public class LlamasInvalidArgumentException : LlamasException
    {
        public LlamasInvalidArgumentException(string message) : base(Status.InvalidArgument, message) { }
    }

    /// <summary>Why a generation ended (Context.FinishReason).</summary>
    public enum FinishReason { None = 0, Eog = 1, MaxTokens = 2, StopString = 3, ContextFull = 4, Cancelled = 5, Callback = 6 }

    /// <summary>The model's special tokens (Model.SpecialToken).</summary>
    public enum Special { Bos = 0, Eos = 1, Eot = 2, Sep = 3, Pad = 4, Unk = 5, Mask = 6, FimPre = 7, FimSuf = 8, FimMid = 9, Nl = 10 }

    /// <summary>Token attribute bits (Model.TokenAttr).</summary>
    [Flags]
    public enum TokenAttr : uint
    {
        None = 0, Unknown = 1 << 0, Unused = 1 << 1, Normal = 1 << 2, Control = 1 << 3, UserDefined = 1 << 4,
        Byte = 1 << 5, Normalized = 1 << 6, LStrip = 1 << 7, RStrip = 1 << 8, SingleWord = 1 << 9
    }

    /// <summary>GGUF metadata value types.</summary>
    public enum MetaType { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12 }

    /// <summary>A metadata value's type; for arrays the element type and count (scalars: Count 1).</summary>
    public struct MetaInfo
    {
        public MetaType Type, ElemType;
        public ulong Count;
    }

    /// <summary>A token and its log-probability.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TokenLogprob
    {
        public int Token;
        public float Logprob;
    }

    /// <summary>Per generated token: its log-probability and the NProbs most likely tokens.</summary>
    public sealed class TokenInfo
    {
        public int Token;
        public float Logprob;
        public TokenLogprob[] Top;
    }

    /// <summary>Generation options (GenerateOptions.Default: 256 tokens, control tokens skipped).</summary>
    public sealed class GenerateOptions
    {
        public int MaxTokens = 256;
        public bool ParseSpecial;
        public bool SkipSpecial = true;
        /// <summary>Strings that end the generation; no part of one reaches the callback.</summary>
        public string[] Stop;
        /// <summary>Called per generated token before its piece; an exception cancels the
        /// generation and is rethrown by Generate.</summary>
        public Action<TokenInfo> OnToken;
        /// <summary>Alternatives per OnToken call.</summary>
        public int NProbs;
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
        // ---- structured output and chat with tools (since 0.2). JSON is passed as text.

        /// <summary>Converts a JSON Schema (JSON text) into a GBNF grammar (start rule "root")
        /// matching exactly the JSON texts it describes. LlamasInvalidArgumentException with the
        /// reason for text that is not JSON and for unsupported or unsatisfiable schemas.</summary>
        public static string JsonSchemaToGrammar(string schemaJson)
        {
            Native.EnsureLoaded();
            return JsonSchemaToGrammarCore(schemaJson);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static string JsonSchemaToGrammarCore(string schemaJson)
        {
            byte[] schema = Native.Utf8(schemaJson);
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_json_schema_to_grammar(schema, b, c, out l));
        }

        /// <summary>Checks a GBNF grammar without a model (root null: "root").
        /// LlamasInvalidArgumentException with "line L, column C: ..." when it is bad.</summary>
        public static void ValidateGrammar(string gbnf, string root = null)
        {
            Native.EnsureLoaded();
            ValidateGrammarCore(gbnf, root);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static void ValidateGrammarCore(string gbnf, string root)
        {
            Native.Check(Native.llamas_grammar_validate(Native.Utf8(gbnf), Native.Utf8(root)));
        }

        /// <summary>Renders an OpenAI-format conversation (messagesJson: an array of {"role",
        /// "content", "tool_calls"?, "tool_call_id"?, "name"?}; toolsJson: null or an array of
        /// OpenAI tools) with the given template text (BOS/EOS render empty).</summary>
        public static string ApplyChatTemplateJson(string templateText, string messagesJson, string toolsJson = null, bool addGenerationPrompt = true)
        {
            Native.EnsureLoaded();
            return Chat.Apply(null, templateText, messagesJson, toolsJson, addGenerationPrompt);
        }

        /// <summary>Splits a finished reply into content and tool calls, in the format of the
        /// template's family: JSON {"content", "reasoning_content"?, "tool_calls": [{"name",
        /// "arguments", "id"?}]}.</summary>
        public static string ParseChatReply(string templateText, string reply)
        {
            Native.EnsureLoaded();
            return Chat.ParseReply(null, templateText, reply);
        }

        /// <summary>The template family's tool-call format as JSON ({"family", "lazy",
        /// "triggers", ...}; see llamas_chat_tool_format).</summary>
        public static string ChatToolFormat(string templateText)
        {
            Native.EnsureLoaded();
            return Chat.ToolFormat(null, templateText);
        }

        /// <summary>A GBNF grammar that makes the reply a tool call in the template's format
        /// (toolsJson: an array of OpenAI tools; one tool forces that tool), as JSON {"grammar",
        /// "root", "lazy", "triggers"}: give it to Sampler.SetGrammar, or when lazy to
        /// SetGrammarLazy with the triggers.</summary>
        public static string ChatToolCallGrammar(string templateText, string toolsJson, ToolsFlags flags = ToolsFlags.None)
        {
            Native.EnsureLoaded();
            return Chat.ToolCallGrammar(null, templateText, toolsJson, flags);
        }
    }

    /// <summary>Flags of ChatToolCallGrammar.</summary>
    [Flags]
    public enum ToolsFlags
    {
        None = 0,
        /// <summary>The reply must be a call (a grammar from the first token).</summary>
        Required = 1,
        /// <summary>Several calls in one reply, where the format allows it.</summary>
        Parallel = 2
    }

    /// <summary>The chat-with-tools calls, with a model or without one (model null).</summary>
    static class Chat
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        internal static string Apply(ModelHandle h, string templateText, string messagesJson, string toolsJson, bool addGenerationPrompt)
        {
            if (messagesJson == null) throw new ArgumentNullException("messagesJson");
            byte[] t = Native.Utf8(templateText), m = Native.Utf8(messagesJson), tools = Native.Utf8(toolsJson);
            int g = addGenerationPrompt ? 1 : 0;
            if (h == null)
                return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_apply_template_json(IntPtr.Zero, t, m, tools, g, b, c, out l));
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_apply_template_json(h, t, m, tools, g, b, c, out l));
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        internal static string ParseReply(ModelHandle h, string templateText, string reply)
        {
            if (reply == null) throw new ArgumentNullException("reply");
            byte[] t = Native.Utf8(templateText), r = Native.Utf8(reply);
            if (h == null)
                return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_parse_reply(IntPtr.Zero, t, r, b, c, out l));
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_parse_reply(h, t, r, b, c, out l));
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        internal static string ToolCallGrammar(ModelHandle h, string templateText, string toolsJson, ToolsFlags flags)
        {
            if (toolsJson == null) throw new ArgumentNullException("toolsJson");
            byte[] t = Native.Utf8(templateText), tools = Native.Utf8(toolsJson);
            if (h == null)
                return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_tool_call_grammar(IntPtr.Zero, t, tools, (int)flags, b, c, out l));
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_tool_call_grammar(h, t, tools, (int)flags, b, c, out l));
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        internal static string ToolFormat(ModelHandle h, string templateText)
        {
            byte[] t = Native.Utf8(templateText);
            if (h == null)
                return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_tool_format(IntPtr.Zero, t, b, c, out l));
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_chat_tool_format(h, t, b, c, out l));
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
        /// <summary>Sequences held at once (ids 0 .. NSeqMax-1); 0: 1 (since 0.2).</summary>
        public int NSeqMax;
#pragma warning disable 169, 414
        int reserved0;
#pragma warning restore 169, 414

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
#pragma warning disable 169, 414
        int reserved0;
#pragma warning restore 169, 414
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
        public Model(string path, bool useMmap = true) : this(path, useMmap, 0, null) { }

        /// <summary>Loads a model reporting progress: progress(fraction in [0, 1]) returns false
        /// to cancel (Status.Cancelled); an exception it throws cancels the load and is rethrown.</summary>
        public Model(string path, bool useMmap, int nThreads, Func<float, bool> progress)
        {
            Native.EnsureLoaded();
            Handle = Load(path, useMmap, nThreads, progress);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static ModelHandle Load(string path, bool useMmap, int nThreads, Func<float, bool> progress)
        {
            ModelHandle handle;
            ModelOptionsNative o;
            Native.llamas_model_options_init(out o);
            o.UseMmap = useMmap ? 1 : 0;
            o.NThreads = nThreads;
            Exception thrown = null;
            Native.ProgressCallback cb = null;
            if (progress != null)
            {
                cb = (float f, IntPtr user) =>
                {
                    if (thrown != null) return 1;
                    try { return progress(f) ? 0 : 1; }
                    catch (Exception e) { thrown = e; return 1; } // never unwind through C frames
                };
                o.Progress = Marshal.GetFunctionPointerForDelegate(cb);
            }
            int status = Native.llamas_model_load(Native.Utf8(path), ref o, out handle);
            GC.KeepAlive(cb);
            if (thrown != null) { handle.Dispose(); throw thrown; }
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

        /// <summary>Renders an OpenAI-format conversation with tools (JSON text, see
        /// Library.ApplyChatTemplateJson) with this model's template, or templateText.</summary>
        public string ApplyChatTemplateJson(string messagesJson, string toolsJson = null, bool addGenerationPrompt = true, string templateText = null)
        {
            return Chat.Apply(H, templateText, messagesJson, toolsJson, addGenerationPrompt);
        }

        /// <summary>Splits a finished reply into content and tool calls (JSON; see
        /// Library.ParseChatReply) with this model's template, or templateText.</summary>
        public string ParseChatReply(string reply, string templateText = null) { return Chat.ParseReply(H, templateText, reply); }

        /// <summary>The tool-call format (JSON) of this model's template, or templateText.</summary>
        public string ChatToolFormat(string templateText = null) { return Chat.ToolFormat(H, templateText); }

        /// <summary>The tool-call grammar (JSON; see Library.ChatToolCallGrammar) for this
        /// model's template, or templateText.</summary>
        public string ChatToolCallGrammar(string toolsJson, ToolsFlags flags = ToolsFlags.None, string templateText = null)
        {
            return Chat.ToolCallGrammar(H, templateText, toolsJson, flags);
        }

        // ---- sizes, metadata and vocabulary (since 0.2)

        public ulong NParams { get { return Native.llamas_model_n_params(H); } }
        public ulong TensorBytes { get { return Native.llamas_model_tensor_bytes(H); } }
        public ulong FileSize { get { return Native.llamas_model_file_size(H); } }
        /// <summary>A one-line description such as "llama 1.2B Q4_K - Medium".</summary>
        public string Description
        {
            get { var h = H; return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_model_description(h, b, c, out l)); }
        }

        /// <summary>Every metadata key, in file order.</summary>
        public string[] MetaKeys()
        {
            var h = H;
            int n = Native.llamas_model_meta_count(h);
            var keys = new string[n];
            for (int i = 0; i < n; i++) keys[i] = Native.FromUtf8(Native.llamas_model_meta_key(h, i));
            return keys;
        }

        /// <summary>A key's type; LlamasNotFoundException when absent.</summary>
        public MetaInfo MetaInfo(string key)
        {
            int t, et;
            ulong n;
            Native.Check(Native.llamas_model_meta_info(H, Native.Utf8(key), out t, out et, out n));
            return new MetaInfo { Type = (MetaType)t, ElemType = (MetaType)et, Count = n };
        }

        public long MetaInt(string key, ulong index = 0)
        {
            long v;
            Native.Check(Native.llamas_model_meta_int(H, Native.Utf8(key), index, out v));
            return v;
        }

        public double MetaFloat(string key, ulong index = 0)
        {
            double v;
            Native.Check(Native.llamas_model_meta_float(H, Native.Utf8(key), index, out v));
            return v;
        }

        public string MetaString(string key, ulong index = 0)
        {
            var h = H;
            byte[] k = Native.Utf8(key);
            return Native.ReadText((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_model_meta_string(h, k, index, b, c, out l));
        }

        object MetaElem(string key, MetaType t, ulong index)
        {
            switch (t)
            {
                case MetaType.String: return MetaString(key, index);
                case MetaType.F32: case MetaType.F64: return MetaFloat(key, index);
                case MetaType.Bool: return MetaInt(key, index) != 0;
                case MetaType.Array: throw new LlamasException(Status.Unsupported, "nested array in " + key);
                default: return MetaInt(key, index);
            }
        }

        /// <summary>A value with its type: long, double, bool, string, or object[] of those.</summary>
        public object MetaValue(string key)
        {
            var info = MetaInfo(key);
            if (info.Type != MetaType.Array) return MetaElem(key, info.Type, 0);
            var items = new object[info.Count];
            for (ulong i = 0; i < info.Count; i++) items[i] = MetaElem(key, info.ElemType, i);
            return items;
        }

        /// <summary>A special token's id, or null when the model has none.</summary>
        public int? SpecialToken(Special which) { int t = Native.llamas_model_special_token(H, (int)which); return t < 0 ? (int?)null : t; }
        /// <summary>A token's stored text, or null when out of range.</summary>
        public string TokenText(int token) { return Native.FromUtf8(Native.llamas_token_text(H, token)); }
        public float TokenScore(int token) { return Native.llamas_token_score(H, token); }
        public TokenAttr TokenAttr(int token) { return (TokenAttr)Native.llamas_token_attr(H, token); }

        /// <summary>The bytes one token stands for (possibly part of a UTF-8 character).</summary>
        public byte[] TokenToPiece(int token, bool special = false, bool lstrip = false)
        {
            var h = H;
            int flags = (special ? 1 : 0) | (lstrip ? 2 : 0);
            return Native.ReadBytes((byte[] b, UIntPtr c, out UIntPtr l) => Native.llamas_token_to_piece(h, token, flags, b, c, out l));
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
            int status = Native.llamas_sample(Handle, context.Handle, out tok);
            Rethrow();
            Native.Check(status);
            return tok;
        }

        /// <summary>Picks a token from row i of the context's logits without recording it.</summary>
        public int Choose(Context context, int i = -1)
        {
            int tok;
            int status = Native.llamas_sampler_choose(Handle, context.Handle, i, out tok);
            Rethrow();
            Native.Check(status);
            return tok;
        }

        /// <summary>Records tokens in the penalty window (the prompt's and every kept token).</summary>
        public void Accept(int[] tokens) { Native.Check(Native.llamas_sampler_accept(Handle, tokens, (UIntPtr)tokens.Length)); }

#pragma warning disable 414
        Native.FilterCallback filter; // kept alive while installed
#pragma warning restore 414
        Exception filterError;

        /// <summary>Installs a filter stage (null removes it): filter(logits) may set entries to
        /// float.NegativeInfinity to forbid tokens; returning false fails the choose
        /// (Status.Cancelled); an exception fails it too and is rethrown by the call.</summary>
        public void SetFilter(Func<float[], bool> fn)
        {
            if (fn == null)
            {
                Native.Check(Native.llamas_sampler_set_filter(Handle, null, IntPtr.Zero));
                filter = null;
                return;
            }
            Native.FilterCallback cb = (IntPtr logits, int n, IntPtr user) =>
            {
                if (filterError != null) return 1;
                try
                {
                    var v = new float[n];
                    Marshal.Copy(logits, v, 0, n);
                    bool ok = fn(v);
                    Marshal.Copy(v, 0, logits, n);
                    return ok ? 0 : 1;
                }
                catch (Exception e) { filterError = e; return 1; }
            };
            Native.Check(Native.llamas_sampler_set_filter(Handle, cb, IntPtr.Zero));
            filter = cb;
        }

        internal void Rethrow()
        {
            var e = filterError;
            filterError = null;
            if (e != null) throw e;
        }

        /// <summary>Constrains the choices to texts the GBNF grammar matches from rule root
        /// (null: "root"); Accept, Sample and Generate advance it, Reset restarts it. A bad
        /// grammar throws LlamasInvalidArgumentException with the line and column.</summary>
        public void SetGrammar(string gbnf, string root = null)
        {
            if (gbnf == null) throw new ArgumentNullException("gbnf");
            Native.Check(Native.llamas_sampler_set_grammar(Handle, Native.Utf8(gbnf), Native.Utf8(root)));
        }

        /// <summary>Removes the grammar.</summary>
        public void ClearGrammar() { Native.Check(Native.llamas_sampler_set_grammar(Handle, null, null)); }

        /// <summary>A lazy grammar: free choices until one of triggerWords appears in the
        /// accepted generated text or one of triggerTokens is accepted.</summary>
        public void SetGrammarLazy(string gbnf, string root, IList<string> triggerWords, int[] triggerTokens = null)
        {
            if (gbnf == null) throw new ArgumentNullException("gbnf");
            triggerWords = triggerWords ?? new string[0];
            triggerTokens = triggerTokens ?? new int[0];
            IntPtr[] words = new IntPtr[Math.Max(1, triggerWords.Count)];
            try
            {
                for (int i = 0; i < triggerWords.Count; i++) words[i] = NativeMessages.Alloc(triggerWords[i]);
                Native.Check(Native.llamas_sampler_set_grammar_lazy(Handle, Native.Utf8(gbnf), Native.Utf8(root), words,
                    (UIntPtr)triggerWords.Count, triggerTokens, (UIntPtr)triggerTokens.Length));
            }
            finally
            {
                foreach (IntPtr p in words) if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }

        /// <summary>A lazy grammar triggered by regular expressions (llama.cpp's trigger patterns:
        /// searched in all generated text, or matched whole when ^...$; the grammar starts at the
        /// first non-empty capture group) or by one of triggerTokens.</summary>
        public void SetGrammarLazyPatterns(string gbnf, string root, IList<string> triggerPatterns, int[] triggerTokens = null)
        {
            if (gbnf == null) throw new ArgumentNullException("gbnf");
            triggerPatterns = triggerPatterns ?? new string[0];
            triggerTokens = triggerTokens ?? new int[0];
            IntPtr[] patterns = new IntPtr[Math.Max(1, triggerPatterns.Count)];
            try
            {
                for (int i = 0; i < triggerPatterns.Count; i++) patterns[i] = NativeMessages.Alloc(triggerPatterns[i]);
                Native.Check(Native.llamas_sampler_set_grammar_lazy_patterns(Handle, Native.Utf8(gbnf), Native.Utf8(root),
                    patterns, (UIntPtr)triggerPatterns.Count, triggerTokens, (UIntPtr)triggerTokens.Length));
            }
            finally
            {
                foreach (IntPtr p in patterns) if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }

        /// <summary>Records prompt tokens in the penalty window only (a grammar is not advanced).</summary>
        public void AcceptPrompt(int[] tokens) { Native.Check(Native.llamas_sampler_accept_prompt(Handle, tokens, (UIntPtr)tokens.Length)); }

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

        // ---- sequences, batches, logprobs, state (since 0.2)

        public int NSeqMax { get { return Native.llamas_context_n_seq_max(Handle); } }
        /// <summary>Why the last generation ended.</summary>
        public FinishReason FinishReason { get { return (FinishReason)Native.llamas_context_finish_reason(Handle); } }

        /// <summary>Evaluates tokens of several sequences in one pass: tokens[i] goes to
        /// sequence seqIds[i] (null: 0) at positions[i] (null: after what the sequence holds);
        /// wantLogits[i] keeps its logits (null: each sequence's last). Read them with LogitsIth.</summary>
        public void DecodeBatch(int[] tokens, int[] positions = null, int[] seqIds = null, bool[] wantLogits = null)
        {
            int n = tokens.Length;
            if ((positions != null && positions.Length != n) || (seqIds != null && seqIds.Length != n) || (wantLogits != null && wantLogits.Length != n))
                throw new ArgumentException("per-token arrays must be as long as tokens");
            sbyte[] want = wantLogits == null ? null : Array.ConvertAll(wantLogits, w => (sbyte)(w ? 1 : 0));
            Native.Check(Native.llamas_decode_batch(Handle, tokens, positions, seqIds, want, (UIntPtr)n));
        }

        /// <summary>A copy of the logits of token i of the last decode (i &lt; 0 counts from the
        /// end), or null when that token kept none.</summary>
        public float[] LogitsIth(int i)
        {
            IntPtr p = Native.llamas_logits_ith(Handle, i);
            if (p == IntPtr.Zero) return null;
            float[] v = new float[model.NVocab];
            Marshal.Copy(p, v, 0, v.Length);
            return v;
        }

        /// <summary>The nTop most likely tokens of row i with their log-probabilities.</summary>
        public TokenLogprob[] Logprobs(int i, int nTop)
        {
            float lp;
            UIntPtr got;
            var top = new TokenLogprob[Math.Max(1, nTop)];
            Native.Check(Native.llamas_logprobs(Handle, i, -1, out lp, top, (UIntPtr)nTop, out got));
            Array.Resize(ref top, nTop == 0 ? 0 : (int)got.ToUInt64());
            return top;
        }

        /// <summary>Row i's log-probability of token.</summary>
        public float Logprob(int i, int token)
        {
            float lp;
            UIntPtr got;
            Native.Check(Native.llamas_logprobs(Handle, i, token, out lp, null, UIntPtr.Zero, out got));
            return lp;
        }

        /// <summary>The lowest / highest position sequence seq holds, -1 when it is empty.</summary>
        public int SeqPosMin(int seq) { return Native.llamas_seq_pos_min(Handle, seq); }
        public int SeqPosMax(int seq) { return Native.llamas_seq_pos_max(Handle, seq); }
        /// <summary>Drops positions [p0, p1) of seq (seq &lt; 0: all; p1 &lt; 0: to the end).</summary>
        public void SeqRemove(int seq, int p0 = 0, int p1 = -1, bool shift = false) { Native.Check(Native.llamas_seq_remove(Handle, seq, p0, p1, shift ? 1 : 0)); }
        /// <summary>Makes dst a copy of src's tokens below position p1 (-1: all).</summary>
        public void SeqCopy(int src, int dst, int p1 = -1) { Native.Check(Native.llamas_seq_copy(Handle, src, dst, p1)); }
        public void SeqKeep(int seq) { Native.Check(Native.llamas_seq_keep(Handle, seq)); }
        public void SeqShift(int seq, int p0, int p1, int delta) { Native.Check(Native.llamas_seq_shift(Handle, seq, p0, p1, delta)); }

        /// <summary>The state (seq &lt; 0: every sequence; else one) as bytes.</summary>
        public byte[] SaveState(int seq = -1)
        {
            UIntPtr size;
            Native.Check(Native.llamas_state_size(Handle, seq, out size));
            while (true)
            {
                var buf = new byte[Math.Max(1, (long)size.ToUInt64())];
                int status = Native.llamas_state_save(Handle, seq, buf, size, out size);
                if (status == 0) { Array.Resize(ref buf, (int)size.ToUInt64()); return buf; }
                if (status != (int)Status.BufferTooSmall) throw Native.Error(status);
            }
        }

        /// <summary>Restores a state (seq &gt;= 0: a one-sequence state into seq); a state that
        /// does not fit is Status.BadFormat and leaves the context as it was.</summary>
        public void LoadState(byte[] data, int seq = -1) { Native.Check(Native.llamas_state_load(Handle, seq, data, (UIntPtr)data.Length)); }
        public void SaveStateFile(string path, int seq = -1) { Native.Check(Native.llamas_state_save_file(Handle, seq, Native.Utf8(path))); }
        public void LoadStateFile(string path, int seq = -1) { Native.Check(Native.llamas_state_load_file(Handle, seq, Native.Utf8(path))); }

        public void ClearKv() { Native.Check(Native.llamas_kv_clear(Handle)); }
        public void RemoveKv(int p0, int p1 = -1) { Native.Check(Native.llamas_kv_remove(Handle, p0, p1)); }
        public void KeepShiftKv(int nKeep, int nDiscard) { Native.Check(Native.llamas_kv_keep_shift(Handle, nKeep, nDiscard)); }
        /// <summary>Makes the call running in this context return Status.Cancelled; any thread. A
        /// cancel while no call runs does nothing.</summary>
        public void Cancel() { Native.llamas_context_cancel(Handle); }

        /// <summary>Generates with a callback: onPiece(text, token) returns false to stop.
        /// Returns the number of tokens generated.</summary>
        public int Generate(string prompt, Sampler sampler, int maxTokens, Func<string, int, bool> onPiece,
                            bool parseSpecial = false, bool skipSpecial = true)
        {
            return Generate(prompt, sampler, new GenerateOptions { MaxTokens = maxTokens, ParseSpecial = parseSpecial, SkipSpecial = skipSpecial }, onPiece);
        }

        /// <summary>Generates with a callback and full options (stop strings, token infos).</summary>
        public int Generate(string prompt, Sampler sampler, GenerateOptions options, Func<string, int, bool> onPiece)
        {
            GenerateOptionsNative o;
            Native.llamas_generate_options_init(out o);
            o.MaxTokens = options.MaxTokens;
            o.ParseSpecial = options.ParseSpecial ? 1 : 0;
            o.SkipSpecial = options.SkipSpecial ? 1 : 0;
            Exception thrown = null;
            Native.PieceCallback cb = (IntPtr piece, UIntPtr length, int token, IntPtr user) =>
            {
                if (thrown != null) return 1;
                try { return onPiece == null || onPiece(Native.FromUtf8(piece, (int)length.ToUInt64()), token) ? 0 : 1; }
                catch (Exception e) { thrown = e; return 1; } // never unwind through C frames
            };
            Native.TokenCallback tcb = null;
            if (options.OnToken != null)
            {
                var handle = Handle;
                tcb = (IntPtr infoPtr, IntPtr user) =>
                {
                    if (thrown != null) return;
                    try
                    {
                        var info = (TokenInfoNative)Marshal.PtrToStructure(infoPtr, typeof(TokenInfoNative));
                        var top = new TokenLogprob[Math.Max(0, info.NTop)];
                        for (int k = 0; k < top.Length; k++)
                            top[k] = (TokenLogprob)Marshal.PtrToStructure(info.Top + 8 * k, typeof(TokenLogprob));
                        options.OnToken(new TokenInfo { Token = info.Token, Logprob = info.Logprob, Top = top });
                    }
                    catch (Exception e) { thrown = e; Native.llamas_context_cancel(handle); } // a void callback: cancel
                };
                o.TokenCallback = Marshal.GetFunctionPointerForDelegate(tcb);
                o.NProbs = options.NProbs;
            }
            var stops = options.Stop ?? new string[0];
            var stopPtrs = new IntPtr[Math.Max(1, stops.Length)];
            GCHandle pinned = default(GCHandle);
            try
            {
                for (int i = 0; i < stops.Length; i++) stopPtrs[i] = NativeMessages.Alloc(stops[i]);
                if (stops.Length > 0)
                {
                    pinned = GCHandle.Alloc(stopPtrs, GCHandleType.Pinned);
                    o.Stop = pinned.AddrOfPinnedObject();
                    o.NStop = (UIntPtr)stops.Length;
                }
                int n;
                int status = Native.llamas_generate(Handle, sampler.Handle, Native.Utf8(prompt), ref o, cb, IntPtr.Zero, out n);
                GC.KeepAlive(cb);
                GC.KeepAlive(tcb);
                if (thrown != null) throw thrown;
                sampler.Rethrow();
                Native.Check(status);
                return n;
            }
            finally
            {
                if (pinned.IsAllocated) pinned.Free();
                foreach (IntPtr p in stopPtrs) if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
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
            return GeneratePieces(prompt, sampler, new GenerateOptions { MaxTokens = maxTokens });
        }

        /// <summary>As Generate, with a sampler of the caller's and full options.</summary>
        public IEnumerable<Piece> GeneratePieces(string prompt, Sampler sampler, GenerateOptions options)
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
                    Generate(prompt, sampler, options, (text, token) =>
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
