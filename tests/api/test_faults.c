/* Faults a host process can meet, through the C API: every one must come back as a status with
 * a message, never a crash, abort or hang.
 *  - allocation failure under a limited address space (a child process with RLIMIT_AS, like
 *    `ulimit -v`): huge KV caches, scratch vectors, worker threads, mapping the model;
 *  - files that are not models: a FIFO (must not block), a directory, /dev/null, an empty file;
 *  - hostile argument values: dangling-looking pointers with zero lengths, garbage option sizes,
 *    extreme positions for the KV edits;
 *  - context overflow (nothing evaluated, the context keeps working), cancellation (the next
 *    call works again, also after a cancel from another thread mid-decode);
 *  - resource hygiene: 100 load/context/decode/free cycles leave the open file descriptors, the
 *    memory mappings and the threads as they were.
 * The allocation-failure part runs on release builds only: sanitizers reserve terabytes of
 * address space and replace the allocator, which makes RLIMIT_AS meaningless there (their
 * leak checker covers the same ground instead). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "llamas.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

static char g_kjv[4096];
static char g_dir[256]; /* scratch directory for this run */

/* ---- /proc counters ------------------------------------------------------------------------ */

static int count_dir(const char* path) {
    DIR* d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n - (strcmp(path, "/proc/self/fd") == 0 ? 1 : 0); /* the DIR's own descriptor */
}

/* Lines of a text file, or only those containing `needle` when it is not NULL. */
static int count_lines(const char* path, const char* needle) {
    FILE* f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f))
        if (!needle || strstr(line, needle)) ++n;
    fclose(f);
    return n;
}

static long vm_size_kb(void) {
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kb = strtol(line + 7, NULL, 10);
    fclose(f);
    return kb;
}

static llamas_model* load(const char* path, int use_mmap) {
    llamas_model_options mo;
    llamas_model_options_init(&mo);
    mo.use_mmap = use_mmap;
    llamas_model* m = NULL;
    CHECK_OK(llamas_model_load(path, &mo, &m));
    return m;
}

static llamas_context* context(llamas_model* m, int32_t n_ctx, int32_t n_batch, int32_t n_threads) {
    llamas_context_options o;
    llamas_context_options_init(&o);
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    o.n_threads = n_threads;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, &o, &c));
    return c;
}

static int same_logits(const float* a, const float* b, int n) {
    if (!a || !b) return 0;
    for (int i = 0; i < n; ++i)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* ---- allocation failure in a child with a limited address space ---------------------------- */

/* Runs in the child: returns the number of failed checks (the child's exit status). */
static int oom_child(void) {
    /* Loading a model needs address space to map it or to read it into memory. (First, while
     * the heap holds no freed memory that could serve the read.) */
    struct rlimit tight;
    if (getrlimit(RLIMIT_AS, &tight) != 0) return 1;
    const struct rlimit unlimited = tight;
    tight.rlim_cur = (rlim_t)(vm_size_kb() + 1024) * 1024; /* 1 MB of room */
    CHECK(setrlimit(RLIMIT_AS, &tight) == 0);
    llamas_model* m2 = NULL;
    llamas_model_options mo;
    llamas_model_options_init(&mo);
    mo.use_mmap = 0;
    char f32[4096];
    data_path(f32, sizeof f32, "models/llama-F32.gguf");
    CHECK_FAILS(llamas_model_load(f32, &mo, &m2), LLAMAS_ERR_OUT_OF_MEMORY);
    printf("  read an 18 MB model with 1 MB of room: %s\n", llamas_last_error());
    mo.use_mmap = 1;
    llamas_status s = llamas_model_load(g_kjv, &mo, &m2);
    CHECK(s == LLAMAS_ERR_OUT_OF_MEMORY && m2 == NULL && llamas_last_error()[0]);
    printf("  map 4 MB model with 1 MB of room: %s: %s\n", llamas_status_string(s), llamas_last_error());
    CHECK(setrlimit(RLIMIT_AS, &unlimited) == 0);

    llamas_model* m = load(g_kjv, 1);
    if (!m) return 1;
    /* Room for the model, small contexts and the test itself, not for the big requests. */
    const long limit_mb = 600;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0) return 1;
    /* Only the soft limit moves, so that it can be raised again without privileges. */
    rl.rlim_cur = (rlim_t)(vm_size_kb() + limit_mb * 1024) * 1024;
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
        perror("setrlimit");
        return 1;
    }
    llamas_context_options o;
    llamas_context_options_init(&o);
    llamas_context* c = NULL;

    /* A KV cache of 16M positions (32 GB for this model): the cache allocation fails. */
    o.n_ctx = 1 << 24;
    o.n_threads = 1;
    CHECK_FAILS(llamas_context_create(m, &o, &c), LLAMAS_ERR_OUT_OF_MEMORY);
    CHECK(strstr(llamas_last_error(), "KV cache") != NULL);
    printf("  n_ctx=2^24: %s: %s\n", llamas_status_string(LLAMAS_ERR_OUT_OF_MEMORY), llamas_last_error());
    /* The largest n_ctx the API accepts. */
    o.n_ctx = INT32_MAX;
    CHECK_FAILS(llamas_context_create(m, &o, &c), LLAMAS_ERR_OUT_OF_MEMORY);
    /* A cache that fits (Q8_0, ~435 MB) but per-batch scratch vectors that do not: a
     * std::vector resize throws bad_alloc inside the constructor. */
    o.n_ctx = 400000;
    o.n_batch = 400000;
    o.kv_type = LLAMAS_KV_Q8_0;
    CHECK_FAILS(llamas_context_create(m, &o, &c), LLAMAS_ERR_OUT_OF_MEMORY);
    CHECK(strstr(llamas_last_error(), "scratch") != NULL);
    printf("  n_ctx=n_batch=400000: %s\n", llamas_last_error());
    /* 512 worker threads need 512 stacks: thread creation fails part way. */
    llamas_context_options_init(&o);
    o.n_ctx = 64;
    o.n_threads = 512;
    s = llamas_context_create(m, &o, &c);
    CHECK(s == LLAMAS_ERR_OUT_OF_MEMORY || s == LLAMAS_OK);
    printf("  n_threads=512: %s%s%s\n", llamas_status_string(s), s ? ": " : "", s ? llamas_last_error() : "");
    if (s == LLAMAS_OK) llamas_context_free(c);
    c = NULL;

    /* After all that, the model still serves a small context. */
    c = context(m, 64, 16, 1);
    if (c) {
        int32_t ids[3] = {1, 200, 300};
        CHECK_OK(llamas_decode(c, ids, 3));
        CHECK(llamas_logits(c) != NULL);
        llamas_context_free(c);
    }
    llamas_model_free(m);
    return g_failures;
}

static void test_out_of_memory(void) {
    if (UNDER_SANITIZER || getenv("LLAMAS_TEST_SANITIZER")) {
        printf("out-of-memory: skipped under sanitizers (RLIMIT_AS is meaningless there)\n");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120); /* a hang is a failure too */
        int failures = oom_child();
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status)); /* not killed by a signal (abort, segfault, alarm) */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (WIFSIGNALED(status)) fprintf(stderr, "out-of-memory child died of signal %d\n", WTERMSIG(status));
}

/* ---- files that are not models --------------------------------------------------------------- */

static void test_unmappable_files(void) {
    llamas_model* m = NULL;
    char path[512];

    /* A FIFO: opening it for reading would wait for a writer forever. */
    snprintf(path, sizeof path, "%s/model.gguf", g_dir);
    CHECK(mkfifo(path, 0600) == 0);
    alarm(30);
    CHECK_FAILS(llamas_model_load(path, NULL, &m), LLAMAS_ERR_IO);
    alarm(0);
    CHECK(strstr(llamas_last_error(), "not a regular file") != NULL);
    remove(path);

    CHECK_FAILS(llamas_model_load(g_dir, NULL, &m), LLAMAS_ERR_IO); /* a directory */
    CHECK_FAILS(llamas_model_load("/dev/null", NULL, &m), LLAMAS_ERR_IO);
    CHECK_FAILS(llamas_model_load("", NULL, &m), LLAMAS_ERR_IO);

    snprintf(path, sizeof path, "%s/empty.gguf", g_dir);
    FILE* f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK_FAILS(llamas_model_load(path, NULL, &m), LLAMAS_ERR_BAD_FORMAT);
    remove(path);
    CHECK(m == NULL);
}

/* ---- hostile argument values ------------------------------------------------------------------ */

static void test_dangling_looking_arguments(llamas_model* m) {
    /* Non-NULL pointers that must not be touched because their length is zero. */
    const char* text = (const char*)(uintptr_t)8;
    int32_t* tokens = (int32_t*)(uintptr_t)8;
    char* buf = (char*)(uintptr_t)8;
    size_t n = 99;
    CHECK_OK(llamas_tokenize(m, text, 0, 0, tokens, 0, &n));
    CHECK(n == 0);
    CHECK_FAILS(llamas_tokenize(m, text, 0, LLAMAS_TOKENIZE_ADD_SPECIAL, tokens, 0, &n), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 1); /* BOS */
    CHECK_OK(llamas_detokenize(m, tokens, 0, 0, buf, 0, &n));
    CHECK(n == 0);
    /* No room even for the terminating NUL of the empty text. */
    CHECK_FAILS(llamas_chat_apply_chatml((const llamas_chat_message*)(uintptr_t)8, 0, 0, buf, 0, &n),
                LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 0);

    /* Struct sizes: a newer caller's struct (larger, unknown bytes zero) is read up to ours; one
     * that sets a field we do not know is refused, as is a size too small or absurd. */
    struct {
        llamas_context_options o;
        char tail[64];
    } big;
    memset(&big, 0, sizeof big);
    llamas_context_options_init(&big.o);
    big.o.struct_size = sizeof big; /* a newer header's struct with its new fields at 0 */
    big.o.n_ctx = 32;
    big.o.n_threads = 1;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, &big.o, &c));
    CHECK(c && llamas_context_n_ctx(c) == 32);
    llamas_context_free(c);
    c = NULL;
    big.tail[5] = 1; /* a field this library does not know, set */
    CHECK_FAILS(llamas_context_create(m, &big.o, &c), LLAMAS_ERR_UNSUPPORTED);
    CHECK(c == NULL);
    big.tail[5] = 0;
    big.o.struct_size = 1u << 30; /* not a struct's size */
    CHECK_FAILS(llamas_context_create(m, &big.o, &c), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_context_options tiny;
    memset(&tiny, 0x7f, sizeof tiny);
    tiny.struct_size = 3; /* smaller than the size field itself */
    CHECK_FAILS(llamas_context_create(m, &tiny, &c), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
    llamas_context_options old;
    memset(&old, 0x7f, sizeof old); /* garbage beyond the declared size is never read */
    old.struct_size = 24;           /* the 0.1 header's struct: n_ctx .. kv_type */
    old.n_ctx = 16; old.n_batch = 8; old.n_threads = 1; old.kv_type = LLAMAS_KV_F16;
    CHECK_OK(llamas_context_create(m, &old, &c));
    CHECK(c && llamas_context_n_ctx(c) == 16 && llamas_context_n_seq_max(c) == 1);
    llamas_context_free(c);

    /* Extreme values for the numeric arguments. */
    c = context(m, 32, 8, 1);
    if (!c) return;
    int32_t ids[8] = {1, 100, 200, 300, 400, 500, 600, 700};
    CHECK_OK(llamas_decode(c, ids, 8));
    const int32_t extremes[] = {INT32_MIN, -2, -1, 0, 7, 8, 9, 32, INT32_MAX};
    const size_t n_ext = sizeof extremes / sizeof extremes[0];
    int calls = 0;
    for (size_t i = 0; i < n_ext; ++i) {
        for (size_t j = 0; j < n_ext; ++j) {
            CHECK_OK(llamas_kv_clear(c));
            CHECK_OK(llamas_decode(c, ids, 8));
            llamas_status s = llamas_kv_remove(c, extremes[i], extremes[j]);
            CHECK(s == LLAMAS_OK || s == LLAMAS_ERR_INVALID_ARGUMENT);
            CHECK(llamas_context_n_past(c) >= 0 && llamas_context_n_past(c) <= 8);
            CHECK_OK(llamas_kv_clear(c));
            CHECK_OK(llamas_decode(c, ids, 8));
            s = llamas_kv_keep_shift(c, extremes[i], extremes[j]);
            CHECK(s == LLAMAS_OK || s == LLAMAS_ERR_INVALID_ARGUMENT);
            CHECK(llamas_context_n_past(c) >= 0 && llamas_context_n_past(c) <= 8);
            /* The context keeps working after whatever happened. */
            CHECK_OK(llamas_decode(c, ids + 1, 1));
            calls += 2;
        }
    }
    printf("kv edits with extreme positions: %d calls, all handled\n", calls);
    /* Token ids at the edges of int32. */
    const int32_t bad_ids[] = {INT32_MIN, -1, llamas_model_n_vocab(m), INT32_MAX};
    for (size_t i = 0; i < 4; ++i) {
        const int32_t past = llamas_context_n_past(c);
        CHECK_FAILS(llamas_decode(c, &bad_ids[i], 1), LLAMAS_ERR_INVALID_ARGUMENT);
        CHECK(llamas_context_n_past(c) == past);
        char out[16];
        CHECK_FAILS(llamas_detokenize(m, &bad_ids[i], 1, 0, out, sizeof out, &n), LLAMAS_ERR_INVALID_ARGUMENT);
        CHECK(llamas_model_is_eog(m, bad_ids[i]) == 0);
    }
    /* n_tokens so large that a size computation could overflow: refused before any read. */
    CHECK_FAILS(llamas_decode(c, ids, SIZE_MAX), LLAMAS_ERR_CONTEXT_FULL);
    CHECK_FAILS(llamas_decode(c, ids, (size_t)INT32_MAX + 2), LLAMAS_ERR_CONTEXT_FULL);
    llamas_context_free(c);
}

/* ---- overflow and cancellation ----------------------------------------------------------------- */

static void test_overflow_keeps_context_usable(llamas_model* m) {
    llamas_context* c = context(m, 16, 8, 1);
    llamas_context* fresh = context(m, 16, 8, 1);
    if (!c || !fresh) return;
    int32_t ids[20];
    for (int i = 0; i < 20; ++i) ids[i] = i == 0 ? 1 : 50 + 7 * i;
    CHECK_OK(llamas_decode(c, ids, 10));
    const float* before = llamas_logits(c);
    CHECK_FAILS(llamas_decode(c, ids + 10, 7), LLAMAS_ERR_CONTEXT_FULL);
    CHECK(strstr(llamas_last_error(), "do not fit") != NULL);
    CHECK(llamas_context_n_past(c) == 10);
    CHECK(llamas_logits(c) == before); /* nothing was evaluated */
    /* Continuing with what fits gives exactly what a fresh context computes. */
    CHECK_OK(llamas_decode(c, ids + 10, 6));
    CHECK_OK(llamas_decode(fresh, ids, 16));
    CHECK(same_logits(llamas_logits(c), llamas_logits(fresh), llamas_model_n_vocab(m)));
    /* Full: make room the documented way and go on. */
    CHECK_FAILS(llamas_decode(c, ids, 1), LLAMAS_ERR_CONTEXT_FULL);
    CHECK_OK(llamas_kv_keep_shift(c, 1, 8));
    CHECK_OK(llamas_decode(c, ids + 16, 4));
    CHECK(llamas_context_n_past(c) == 12);
    llamas_context_free(fresh);
    llamas_context_free(c);
}

typedef struct {
    llamas_context* c;
    volatile int started;
} canceller;

static void* cancel_soon(void* arg) {
    canceller* k = (canceller*)arg;
    while (!k->started) sched_yield();
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    llamas_context_cancel(k->c);
    return NULL;
}

static void test_cancel_then_work_again(llamas_model* m) {
    llamas_context* c = context(m, 256, 1, 1); /* n_batch 1: a cancel point after every token */
    llamas_context* ref = context(m, 256, 64, 1);
    if (!c || !ref) return;
    int32_t ids[200];
    for (int i = 0; i < 200; ++i) ids[i] = i == 0 ? 1 : 30 + (i * 37) % 1900;
    CHECK_OK(llamas_decode(ref, ids, 5));

    /* A cancel while no call runs does nothing: it never carries over to the next call. */
    llamas_context_cancel(c);
    CHECK_OK(llamas_decode(c, ids, 5));
    CHECK(same_logits(llamas_logits(c), llamas_logits(ref), llamas_model_n_vocab(m)));

    /* Cancelled from another thread in the middle of a long decode. */
    int cancelled = 0;
    for (int attempt = 0; attempt < 5 && !cancelled; ++attempt) {
        CHECK_OK(llamas_kv_clear(c));
        canceller k = {c, 0};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, cancel_soon, &k) == 0);
        k.started = 1;
        llamas_status s = llamas_decode(c, ids, 200);
        pthread_join(t, NULL);
        CHECK(s == LLAMAS_OK || s == LLAMAS_ERR_CANCELLED);
        if (s == LLAMAS_ERR_CANCELLED) {
            cancelled = 1;
            const int32_t past = llamas_context_n_past(c);
            printf("cancelled mid-decode after %d of 200 tokens\n", past);
            CHECK(past >= 0 && past < 200);
        }
    }
    CHECK(cancelled);
    /* Whatever was cached, clearing and decoding again reproduces the reference. */
    CHECK_OK(llamas_kv_clear(c));
    CHECK_OK(llamas_decode(c, ids, 5));
    CHECK(same_logits(llamas_logits(c), llamas_logits(ref), llamas_model_n_vocab(m)));
    llamas_context_free(ref);
    llamas_context_free(c);
}

/* ---- resource hygiene -------------------------------------------------------------------------- */

static void cycle(int use_mmap, int n_threads) {
    llamas_model* m = load(g_kjv, use_mmap);
    if (!m) return;
    llamas_context* c = context(m, 32, 8, n_threads);
    if (c) {
        int32_t ids[2] = {1, 400};
        CHECK_OK(llamas_decode(c, ids, 2));
        llamas_context_free(c);
    }
    llamas_model_free(m);
}

static void test_no_leaks_over_cycles(void) {
    const int n_cycles = 100;
    for (int warm = 0; warm < 3; ++warm) cycle(warm & 1, 4); /* allocator arenas settle */
    const int fd0 = count_dir("/proc/self/fd"), maps0 = count_lines("/proc/self/maps", NULL),
              task0 = count_dir("/proc/self/task");
    for (int i = 0; i < n_cycles; ++i) cycle(i & 1, 4);
    /* A joined thread can stay listed in /proc for a moment after it exits (seen on a loaded
     * machine): wait up to a second for the count to settle. */
    for (int t = 0; t < 100 && count_dir("/proc/self/task") != task0; ++t) usleep(10000);
    const int fd1 = count_dir("/proc/self/fd"), maps1 = count_lines("/proc/self/maps", NULL),
              task1 = count_dir("/proc/self/task"), model_maps = count_lines("/proc/self/maps", ".gguf");
    printf("%d load/context/decode/free cycles: fds %d -> %d, maps %d -> %d (model files: %d), threads %d -> %d\n",
           n_cycles, fd0, fd1, maps0, maps1, model_maps, task0, task1);
    CHECK(fd0 > 0 && fd1 == fd0);
    CHECK(task0 > 0 && task1 == task0);
    CHECK(model_maps == 0); /* every mapping of a model file is gone */
    /* A leaked anonymous mapping per cycle would add 100; the allocator may add or drop some:
     * glibc gives contending threads arenas of their own, up to 8 per core, each 2-3 lines here
     * (+28 was seen with another test running beside this one on 2 cores), so allow 48.
     * (Sanitizer allocators map memory in their own rhythm; LeakSanitizer checks there.) */
    if (!UNDER_SANITIZER) CHECK(maps0 > 0 && maps1 <= maps0 + 48);

    /* Threads exist while a context lives and are gone after it is freed. */
    llamas_model* m = load(g_kjv, 1);
    if (!m) return;
    llamas_context* c = context(m, 32, 8, 4);
    const int during = count_dir("/proc/self/task");
    CHECK(count_lines("/proc/self/maps", ".gguf") >= 1); /* the probe sees the model's mapping */
    llamas_context_free(c);
    const int after = count_dir("/proc/self/task");
    printf("threads: %d before, %d with a 4-thread context, %d after freeing it\n", task1, during, after);
    CHECK(during == task1 + 3);
    CHECK(after == task1);
    llamas_model_free(m);
}

int main(void) {
    data_path(g_kjv, sizeof g_kjv, "models/kjv-tiny-Q8_0.gguf");
    FILE* probe = fopen(g_kjv, "rb");
    if (!probe) {
        fprintf(stderr, "test data missing: %s\n", g_kjv);
        return 1;
    }
    fclose(probe);
    snprintf(g_dir, sizeof g_dir, "/tmp/llamas-faults-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }

    test_out_of_memory();
    test_unmappable_files();
    llamas_model* m = load(g_kjv, 1);
    if (m) {
        test_dangling_looking_arguments(m);
        test_overflow_keeps_context_usable(m);
        test_cancel_then_work_again(m);
        llamas_model_free(m);
    }
    test_no_leaks_over_cycles();
    rmdir(g_dir);
    return finish("faults");
}
