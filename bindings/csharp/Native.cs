// The raw P/Invoke layer of the C# binding of llamas.
//
// Loading: the P/Invoke declarations name "libllamas.so.0". When LLAMAS_LIBRARY is set, that
// file is dlopen'ed first (RTLD_GLOBAL); the dynamic loader then answers the runtime's own
// dlopen("libllamas.so.0") with the already-loaded library, whose soname it is. Without
// LLAMAS_LIBRARY, the system search path is used.
//
// Mono resolves a P/Invoke when it compiles the calling method (and remembers a failure), so
// EnsureLoaded must run before any method that calls into libllamas is compiled: the public
// entry points (Model's constructor, Library, the option defaults) call EnsureLoaded and then a
// separate, non-inlined method that makes the calls. Everything else needs a Model first.
using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Llamas
{
    internal static class Native
    {
        const string Lib = "libllamas.so.0";
        const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

        [DllImport("libdl.so.2", EntryPoint = "dlopen")] static extern IntPtr dlopen_dl(byte[] file, int flags);
        [DllImport("libdl.so.2", EntryPoint = "dlerror")] static extern IntPtr dlerror_dl();
        [DllImport("libc.so.6", EntryPoint = "dlopen")] static extern IntPtr dlopen_c(byte[] file, int flags);
        [DllImport("libc.so.6", EntryPoint = "dlerror")] static extern IntPtr dlerror_c();

        static readonly object loadLock = new object();
        static bool loaded;

        /// <summary>Where the library comes from: $LLAMAS_LIBRARY, else the system search path.</summary>
        public static string LibraryPath
        {
            get
            {
                string p = Environment.GetEnvironmentVariable("LLAMAS_LIBRARY");
                return string.IsNullOrEmpty(p) ? Lib : p;
            }
        }

        /// <summary>Loads the library once; every public entry point calls this first.</summary>
        public static void EnsureLoaded()
        {
            if (loaded) return;
            lock (loadLock)
            {
                if (loaded) return;
                string path = Environment.GetEnvironmentVariable("LLAMAS_LIBRARY");
                if (!string.IsNullOrEmpty(path))
                {
                    byte[] file = Utf8(path);
                    IntPtr h, err;
                    try { h = dlopen_dl(file, RTLD_NOW | RTLD_GLOBAL); err = h == IntPtr.Zero ? dlerror_dl() : IntPtr.Zero; }
                    catch (DllNotFoundException) { h = dlopen_c(file, RTLD_NOW | RTLD_GLOBAL); err = h == IntPtr.Zero ? dlerror_c() : IntPtr.Zero; }
                    if (h == IntPtr.Zero)
                        throw new DllNotFoundException("llamas: cannot load " + path + ": " + FromUtf8(err));
                }
                Probe(); // resolves the library now, so a failure shows here
                loaded = true;
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static void Probe() { llamas_version(); }

        public static byte[] Utf8(string s)
        {
            if (s == null) return null;
            int n = Encoding.UTF8.GetByteCount(s);
            byte[] b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        public static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            return FromUtf8(p, n);
        }

        public static string FromUtf8(IntPtr p, int n)
        {
            if (p == IntPtr.Zero || n == 0) return "";
            byte[] b = new byte[n];
            Marshal.Copy(p, b, 0, n);
            return Encoding.UTF8.GetString(b);
        }

        /// <summary>The exception for a failed status; call it on the thread of the failed call.</summary>
        public static LlamasException Error(int status)
        {
            string msg = FromUtf8(llamas_last_error());
            if (string.IsNullOrEmpty(msg)) msg = FromUtf8(llamas_status_string(status));
            if (status == (int)Status.NotFound) return new LlamasNotFoundException(msg);
            if (status == (int)Status.InvalidArgument) return new LlamasInvalidArgumentException(msg);
            return new LlamasException((Status)status, msg);
        }

        public static void Check(int status)
        {
            if (status != 0) throw Error(status);
        }

        // llamas_X_options_init(o) is llamas_X_options_init_size(o, sizeof) in the 0.2 header; the
        // exported llamas_X_options_init writes only the 0.1 fields (its size is frozen). The
        // _size form is used while the library has it; a library from before it has only the
        // plain init, which writes its own (full) size.
        static volatile bool hasInitSize = true;

        delegate void OptionsInit<T>(out T options);

        // The two inits are separate NoInlining methods so that a missing entry point throws
        // when the _size one is called, here, not when a caller of it is compiled.
        static void InitOptions<T>(out T o, OptionsInit<T> withSize, OptionsInit<T> v01)
        {
            if (hasInitSize)
                try { withSize(out o); return; }
                catch (EntryPointNotFoundException) { hasInitSize = false; }
            v01(out o);
        }

        public delegate int TextCall(byte[] buffer, UIntPtr capacity, out UIntPtr length);

        /// <summary>Calls f with growing buffers until the text fits (BUFFER_TOO_SMALL rule).</summary>
        public static string ReadText(TextCall f)
        {
            return Encoding.UTF8.GetString(ReadBytes(f));
        }

        public static byte[] ReadBytes(TextCall f)
        {
            int capacity = 256;
            while (true)
            {
                byte[] buf = new byte[capacity];
                UIntPtr len;
                int status = f(buf, (UIntPtr)capacity, out len);
                int n = (int)len.ToUInt64();
                if (status == 0 && n < capacity) { Array.Resize(ref buf, n); return buf; }
                if (status != 0 && status != (int)Status.BufferTooSmall) throw Error(status);
                capacity = Math.Max(n + 1, capacity * 2);
            }
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int PieceCallback(IntPtr piece, UIntPtr length, int token, IntPtr userData);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int ProgressCallback(float progress, IntPtr userData);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void TokenCallback(IntPtr info, IntPtr userData);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int FilterCallback(IntPtr logits, int nVocab, IntPtr userData);

        [DllImport(Lib)] public static extern IntPtr llamas_version();
        [DllImport(Lib)] public static extern int llamas_version_number();
        [DllImport(Lib)] public static extern IntPtr llamas_status_string(int status);
        [DllImport(Lib)] public static extern IntPtr llamas_last_error();
        [DllImport(Lib)] public static extern IntPtr llamas_cpu_path();
        [DllImport(Lib)] public static extern int llamas_set_cpu_path(byte[] name);

        [DllImport(Lib, EntryPoint = "llamas_model_options_init")] static extern void model_options_init_0_1(out ModelOptionsNative options);
        [DllImport(Lib, EntryPoint = "llamas_model_options_init_size")] static extern void model_options_init_size(out ModelOptionsNative options, UIntPtr size);
        [MethodImpl(MethodImplOptions.NoInlining)] static void modelInitSize(out ModelOptionsNative o) { model_options_init_size(out o, (UIntPtr)Marshal.SizeOf(typeof(ModelOptionsNative))); }
        [MethodImpl(MethodImplOptions.NoInlining)] static void modelInit01(out ModelOptionsNative o) { model_options_init_0_1(out o); }
        /// <summary>The library's defaults in this binding's layout (see HasInitSize).</summary>
        public static void llamas_model_options_init(out ModelOptionsNative o) => InitOptions(out o, modelInitSize, modelInit01);
        [DllImport(Lib)] public static extern int llamas_model_load(byte[] path, ref ModelOptionsNative options, out ModelHandle model);
        [DllImport(Lib)] public static extern void llamas_model_free(IntPtr model);
        [DllImport(Lib)] public static extern IntPtr llamas_model_architecture(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_n_vocab(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_n_ctx_train(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_n_embd(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_n_embd_out(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_bos(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_eos(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_is_eog(ModelHandle model, int token);
        [DllImport(Lib)] public static extern IntPtr llamas_model_chat_template(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_meta(ModelHandle model, byte[] key, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_tokenize(ModelHandle model, byte[] text, UIntPtr textLength, int flags, int[] tokens, UIntPtr capacity, out UIntPtr count);
        [DllImport(Lib)] public static extern int llamas_detokenize(ModelHandle model, int[] tokens, UIntPtr nTokens, int flags, byte[] buffer, UIntPtr capacity, out UIntPtr length);

        [DllImport(Lib, EntryPoint = "llamas_context_options_init")] static extern void context_options_init_0_1(out ContextOptions options);
        [DllImport(Lib, EntryPoint = "llamas_context_options_init_size")] static extern void context_options_init_size(out ContextOptions options, UIntPtr size);
        [MethodImpl(MethodImplOptions.NoInlining)] static void contextInitSize(out ContextOptions o) { context_options_init_size(out o, (UIntPtr)Marshal.SizeOf(typeof(ContextOptions))); }
        [MethodImpl(MethodImplOptions.NoInlining)] static void contextInit01(out ContextOptions o) { context_options_init_0_1(out o); }
        /// <summary>The library's defaults in this binding's layout (see HasInitSize).</summary>
        public static void llamas_context_options_init(out ContextOptions o) => InitOptions(out o, contextInitSize, contextInit01);
        [DllImport(Lib)] public static extern int llamas_context_create(ModelHandle model, ref ContextOptions options, out ContextHandle context);
        [DllImport(Lib)] public static extern void llamas_context_free(IntPtr context);
        [DllImport(Lib)] public static extern int llamas_context_n_ctx(ContextHandle context);
        [DllImport(Lib)] public static extern int llamas_context_n_past(ContextHandle context);
        [DllImport(Lib)] public static extern int llamas_decode(ContextHandle context, int[] tokens, UIntPtr n);
        [DllImport(Lib)] public static extern IntPtr llamas_logits(ContextHandle context);
        [DllImport(Lib)] public static extern int llamas_kv_clear(ContextHandle context);
        [DllImport(Lib)] public static extern int llamas_kv_remove(ContextHandle context, int p0, int p1);
        [DllImport(Lib)] public static extern int llamas_kv_keep_shift(ContextHandle context, int nKeep, int nDiscard);
        [DllImport(Lib)] public static extern void llamas_context_cancel(ContextHandle context);

        [DllImport(Lib, EntryPoint = "llamas_sampler_options_init")] static extern void sampler_options_init_0_1(out SamplerOptions options);
        [DllImport(Lib, EntryPoint = "llamas_sampler_options_init_size")] static extern void sampler_options_init_size(out SamplerOptions options, UIntPtr size);
        [MethodImpl(MethodImplOptions.NoInlining)] static void samplerInitSize(out SamplerOptions o) { sampler_options_init_size(out o, (UIntPtr)Marshal.SizeOf(typeof(SamplerOptions))); }
        [MethodImpl(MethodImplOptions.NoInlining)] static void samplerInit01(out SamplerOptions o) { sampler_options_init_0_1(out o); }
        /// <summary>The library's defaults in this binding's layout (see HasInitSize).</summary>
        public static void llamas_sampler_options_init(out SamplerOptions o) => InitOptions(out o, samplerInitSize, samplerInit01);
        [DllImport(Lib)] public static extern int llamas_sampler_create(ModelHandle model, ref SamplerOptions options, out SamplerHandle sampler);
        [DllImport(Lib)] public static extern void llamas_sampler_free(IntPtr sampler);
        [DllImport(Lib)] public static extern int llamas_sampler_set_logit_bias(SamplerHandle sampler, int token, float bias);
        [DllImport(Lib)] public static extern int llamas_sample(SamplerHandle sampler, ContextHandle context, out int token);
        [DllImport(Lib)] public static extern void llamas_sampler_reset(SamplerHandle sampler);

        [DllImport(Lib, EntryPoint = "llamas_generate_options_init")] static extern void generate_options_init_0_1(out GenerateOptionsNative options);
        [DllImport(Lib, EntryPoint = "llamas_generate_options_init_size")] static extern void generate_options_init_size(out GenerateOptionsNative options, UIntPtr size);
        [MethodImpl(MethodImplOptions.NoInlining)] static void generateInitSize(out GenerateOptionsNative o) { generate_options_init_size(out o, (UIntPtr)Marshal.SizeOf(typeof(GenerateOptionsNative))); }
        [MethodImpl(MethodImplOptions.NoInlining)] static void generateInit01(out GenerateOptionsNative o) { generate_options_init_0_1(out o); }
        /// <summary>The library's defaults in this binding's layout (see HasInitSize).</summary>
        public static void llamas_generate_options_init(out GenerateOptionsNative o) => InitOptions(out o, generateInitSize, generateInit01);
        [DllImport(Lib)] public static extern int llamas_generate(ContextHandle context, SamplerHandle sampler, byte[] prompt, ref GenerateOptionsNative options, PieceCallback callback, IntPtr userData, out int nGenerated);

        [DllImport(Lib)] public static extern int llamas_chat_apply_template(ModelHandle model, byte[] templateText, ChatMessageNative[] messages, UIntPtr n, int addGenerationPrompt, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_apply_chatml(ChatMessageNative[] messages, UIntPtr n, int addGenerationPrompt, byte[] buffer, UIntPtr capacity, out UIntPtr length);

        [DllImport(Lib, EntryPoint = "llamas_embed_options_init")] static extern void embed_options_init_0_1(out EmbedOptionsNative options);
        [DllImport(Lib, EntryPoint = "llamas_embed_options_init_size")] static extern void embed_options_init_size(out EmbedOptionsNative options, UIntPtr size);
        [MethodImpl(MethodImplOptions.NoInlining)] static void embedInitSize(out EmbedOptionsNative o) { embed_options_init_size(out o, (UIntPtr)Marshal.SizeOf(typeof(EmbedOptionsNative))); }
        [MethodImpl(MethodImplOptions.NoInlining)] static void embedInit01(out EmbedOptionsNative o) { embed_options_init_0_1(out o); }
        /// <summary>The library's defaults in this binding's layout (see HasInitSize).</summary>
        public static void llamas_embed_options_init(out EmbedOptionsNative o) => InitOptions(out o, embedInitSize, embedInit01);
        [DllImport(Lib)] public static extern int llamas_embed(ContextHandle context, IntPtr[] texts, UIntPtr n, ref EmbedOptionsNative options, float[] output, UIntPtr capacity);

        // ---- since 0.2. Mono resolves these when a calling method is compiled: with a library
        // that lacks one, that method throws EntryPointNotFoundException, the rest works.
        [DllImport(Lib)] public static extern int llamas_model_meta_count(ModelHandle model);
        [DllImport(Lib)] public static extern IntPtr llamas_model_meta_key(ModelHandle model, int index);
        [DllImport(Lib)] public static extern int llamas_model_meta_info(ModelHandle model, byte[] key, out int type, out int elemType, out ulong count);
        [DllImport(Lib)] public static extern int llamas_model_meta_int(ModelHandle model, byte[] key, ulong index, out long value);
        [DllImport(Lib)] public static extern int llamas_model_meta_float(ModelHandle model, byte[] key, ulong index, out double value);
        [DllImport(Lib)] public static extern int llamas_model_meta_string(ModelHandle model, byte[] key, ulong index, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern ulong llamas_model_n_params(ModelHandle model);
        [DllImport(Lib)] public static extern ulong llamas_model_tensor_bytes(ModelHandle model);
        [DllImport(Lib)] public static extern ulong llamas_model_file_size(ModelHandle model);
        [DllImport(Lib)] public static extern int llamas_model_description(ModelHandle model, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_model_special_token(ModelHandle model, int which);
        [DllImport(Lib)] public static extern IntPtr llamas_token_text(ModelHandle model, int token);
        [DllImport(Lib)] public static extern float llamas_token_score(ModelHandle model, int token);
        [DllImport(Lib)] public static extern uint llamas_token_attr(ModelHandle model, int token);
        [DllImport(Lib)] public static extern int llamas_token_to_piece(ModelHandle model, int token, int flags, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_context_n_seq_max(ContextHandle context);
        [DllImport(Lib)] public static extern int llamas_decode_batch(ContextHandle context, int[] tokens, int[] positions, int[] seqIds, sbyte[] wantLogits, UIntPtr n);
        [DllImport(Lib)] public static extern IntPtr llamas_logits_ith(ContextHandle context, int i);
        [DllImport(Lib)] public static extern int llamas_logprobs(ContextHandle context, int i, int token, out float logprob, [Out] TokenLogprob[] top, UIntPtr nTop, out UIntPtr got);
        [DllImport(Lib)] public static extern int llamas_seq_pos_min(ContextHandle context, int seq);
        [DllImport(Lib)] public static extern int llamas_seq_pos_max(ContextHandle context, int seq);
        [DllImport(Lib)] public static extern int llamas_seq_remove(ContextHandle context, int seq, int p0, int p1, int shift);
        [DllImport(Lib)] public static extern int llamas_seq_copy(ContextHandle context, int src, int dst, int p1);
        [DllImport(Lib)] public static extern int llamas_seq_keep(ContextHandle context, int seq);
        [DllImport(Lib)] public static extern int llamas_seq_shift(ContextHandle context, int seq, int p0, int p1, int delta);
        [DllImport(Lib)] public static extern int llamas_state_size(ContextHandle context, int seq, out UIntPtr size);
        [DllImport(Lib)] public static extern int llamas_state_save(ContextHandle context, int seq, byte[] buffer, UIntPtr capacity, out UIntPtr size);
        [DllImport(Lib)] public static extern int llamas_state_load(ContextHandle context, int seq, byte[] data, UIntPtr size);
        [DllImport(Lib)] public static extern int llamas_state_save_file(ContextHandle context, int seq, byte[] path);
        [DllImport(Lib)] public static extern int llamas_state_load_file(ContextHandle context, int seq, byte[] path);
        [DllImport(Lib)] public static extern int llamas_sampler_choose(SamplerHandle sampler, ContextHandle context, int i, out int token);
        [DllImport(Lib)] public static extern int llamas_sampler_accept(SamplerHandle sampler, int[] tokens, UIntPtr n);
        [DllImport(Lib)] public static extern int llamas_sampler_set_filter(SamplerHandle sampler, FilterCallback filter, IntPtr userData);
        [DllImport(Lib)] public static extern int llamas_context_finish_reason(ContextHandle context);

        // Structured output, chat with tools, grammars (since 0.2). The chat functions take the
        // model or NULL (with a template text), hence the IntPtr overloads.
        [DllImport(Lib)] public static extern int llamas_json_schema_to_grammar(byte[] schema, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_apply_template_json(ModelHandle model, byte[] templateText, byte[] messagesJson, byte[] toolsJson, int addGenerationPrompt, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_apply_template_json(IntPtr model, byte[] templateText, byte[] messagesJson, byte[] toolsJson, int addGenerationPrompt, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_parse_reply(ModelHandle model, byte[] templateText, byte[] reply, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_parse_reply(IntPtr model, byte[] templateText, byte[] reply, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_tool_format(ModelHandle model, byte[] templateText, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_tool_format(IntPtr model, byte[] templateText, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_tool_call_grammar(ModelHandle model, byte[] templateText, byte[] toolsJson, int flags, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_chat_tool_call_grammar(IntPtr model, byte[] templateText, byte[] toolsJson, int flags, byte[] buffer, UIntPtr capacity, out UIntPtr length);
        [DllImport(Lib)] public static extern int llamas_grammar_validate(byte[] gbnf, byte[] root);
        [DllImport(Lib)] public static extern int llamas_sampler_set_grammar(SamplerHandle sampler, byte[] gbnf, byte[] root);
        [DllImport(Lib)] public static extern int llamas_sampler_set_grammar_lazy(SamplerHandle sampler, byte[] gbnf, byte[] root, IntPtr[] triggerWords, UIntPtr nTriggerWords, int[] triggerTokens, UIntPtr nTriggerTokens);
        [DllImport(Lib)] public static extern int llamas_sampler_set_grammar_lazy_patterns(SamplerHandle sampler, byte[] gbnf, byte[] root, IntPtr[] triggerPatterns, UIntPtr nTriggerPatterns, int[] triggerTokens, UIntPtr nTriggerTokens);
        [DllImport(Lib)] public static extern int llamas_sampler_accept_prompt(SamplerHandle sampler, int[] tokens, UIntPtr n);
    }

    // The option structs mirror llamas.h field for field (tests/api/test_abi.c pins the offsets).
    [StructLayout(LayoutKind.Sequential)]
    internal struct TokenInfoNative
    {
        public int Token;
        public float Logprob;
        public IntPtr Top;
        public int NTop;
        public int Reserved0;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct ModelOptionsNative
    {
        public UIntPtr StructSize;
        public int UseMmap;
        public int NThreads;
        public IntPtr Progress;
        public IntPtr ProgressUserData;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct GenerateOptionsNative
    {
        public UIntPtr StructSize;
        public int MaxTokens;
        public int ParseSpecial;
        public int SkipSpecial;
        public int Reserved0;
        public IntPtr Stop;
        public UIntPtr NStop;
        public IntPtr TokenCallback;
        public IntPtr TokenUserData;
        public int NProbs;
        public int Reserved1;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct EmbedOptionsNative
    {
        public UIntPtr StructSize;
        public int Pooling;
        public int Normalize;
        public int Dims;
        public int Reserved0;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct ChatMessageNative
    {
        public IntPtr Role;
        public IntPtr Content;
    }
}
