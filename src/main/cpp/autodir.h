/*
 * autodir.h - the C API of autodir-engine (AutoDIR image restoration), for C and C++ hosts.
 *
 * libautodir.so runs the Java engine in a JVM inside the host process (the JNI Invocation API): the first call
 * that needs it creates the JVM (once per process), and every calling thread is attached to it on its first call.
 *
 *   Where the JVM and the engine come from (autodir_init, or these environment variables on first use):
 *     AUTODIR_JAR          the engine's jar, target/autodir.jar (or AUTODIR_CLASSPATH: a full class path)
 *     JAVA_HOME            a Java 17+ runtime; libjvm.so is $JAVA_HOME/lib/server/libjvm.so (AUTODIR_LIBJVM: its path)
 *     AUTODIR_JVM_OPTIONS  JVM options separated by spaces, replacing the defaults
 *                          "-Xrs -XX:+UseSerialGC -XX:PretenureSizeThreshold=4m -XX:MaxRAMPercentage=75"
 *                          (--add-modules=jdk.incubator.vector, -Djava.awt.headless=true and the class path are always given)
 *
 *   Errors: every function returns an autodir_status. AUTODIR_OK is 0; for any other status,
 *   autodir_last_error() gives a one-line message (UTF-8) naming the problem. The message is per thread: it is
 *   that of the calling thread's last call into this library ("" after a success), valid until the thread's next
 *   call. No C++ exception, Java exception or longjmp ever leaves a function of this library.
 *
 *   Threading: any thread may call any function. An engine may be shared by threads: its restores run one at a
 *   time (the engine holds a lock; a second caller waits), because the backends hold per-call scratch memory.
 *   For parallel restores, create one engine per thread (each holds its own weights). An options object is not
 *   thread-safe: set it from one thread, then share it read-only. Destroy an engine only when no call on it is
 *   running or can start. The JVM lives until the process exits (a JVM cannot be created twice in a process).
 *   Signals: with the default -Xrs the JVM leaves SIGINT/SIGTERM/SIGHUP/SIGQUIT to the host; it still uses
 *   SIGSEGV/SIGBUS internally, so a host that installs its own handlers for those must chain them (libjsig.so).
 *
 *   Memory: images are caller-owned buffers, read and written only during the call. Strings this library returns
 *   through a char** (the JSON report) are the caller's to release with autodir_free().
 *
 *   Options: key/value strings with the names and checks of `autodir restore`'s flags, without the dashes:
 *     engine options, fixed at autodir_engine_create: weights (required), config, tokenizer, backend, precision,
 *     calibration (with precision int8 or fp8);
 *     restore options: steps, cfg-text, cfg-image, scm-weight, max-passes, prompt, seed, color-correct, and every
 *     restore option the command line gains later (a new flag is a new key, not a new function);
 *     overwrite ("true"/"false"): autodir_restore_file may replace an existing output file.
 *   An unknown key, or a value the command line would reject, fails autodir_options_set naming the key; the
 *   engine options' files and backends are checked by autodir_engine_create.
 *
 * Minimal use:
 *
 *   autodir_options* o; autodir_engine* e;
 *   if (autodir_abi_version() != AUTODIR_ABI_VERSION) return 1;
 *   autodir_options_create(&o);
 *   autodir_options_set(o, "weights", "autodir.ckpt");
 *   autodir_options_set(o, "steps", "50");
 *   if (autodir_engine_create(o, &e) != AUTODIR_OK) { fprintf(stderr, "%s\n", autodir_last_error()); return 1; }
 *   autodir_image in = {AUTODIR_PIXELS_RGB8, w, h, 3 * (size_t) w, 0, pixels, 3 * (size_t) w * h};
 *   autodir_image out = {AUTODIR_PIXELS_RGB8, w, h, 3 * (size_t) w, 0, restored, 3 * (size_t) w * h};
 *   if (autodir_restore(e, NULL, &in, &out, NULL, NULL, NULL) != AUTODIR_OK) fprintf(stderr, "%s\n", autodir_last_error());
 *   autodir_engine_destroy(e);
 *   autodir_options_destroy(o);
 */
#ifndef AUTODIR_H
#define AUTODIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes; autodir_abi_version() returns the library's. Hosts check they are equal. */
#define AUTODIR_ABI_VERSION 1

#if defined(__GNUC__)
#define AUTODIR_API __attribute__((visibility("default")))
#else
#define AUTODIR_API
#endif

typedef enum autodir_status {
    AUTODIR_OK = 0,
    AUTODIR_INVALID_ARGUMENT = 1,    /* a bad option, a NULL pointer, a buffer of the wrong size */
    AUTODIR_IMAGE_FILE = 2,          /* an image file that cannot be read, decoded or written; an existing output */
    AUTODIR_MODEL_FILE = 3,          /* a checkpoint, config or tokenizer that cannot be used */
    AUTODIR_CANCELLED = 4,           /* the progress callback returned non-zero */
    AUTODIR_OUT_OF_MEMORY = 5,       /* the JVM's heap is exhausted (see -Xmx in AUTODIR_JVM_OPTIONS) */
    AUTODIR_IO_ERROR = 6,            /* another input/output failure */
    AUTODIR_RUNTIME_UNAVAILABLE = 7, /* no JVM: libjvm.so or the jar not found, or the JVM failed to start */
    AUTODIR_INTERNAL = 8             /* a bug: the message names the Java exception */
} autodir_status;

typedef enum autodir_pixel_format {
    AUTODIR_PIXELS_RGB8 = 1,         /* interleaved R, G, B bytes */
    AUTODIR_PIXELS_RGB16 = 2,        /* interleaved R, G, B uint16 in native byte order */
    AUTODIR_PIXELS_FLOAT_PLANES = 3  /* three float32 planes R, G, B, values in [0, 1] (outputs are not clamped) */
} autodir_pixel_format;

/* An image in caller-owned memory. */
typedef struct autodir_image {
    autodir_pixel_format format;
    int32_t width, height;
    size_t stride;       /* bytes from the start of one row to the next (of one plane for float planes) */
    size_t plane_stride; /* float planes: bytes from one plane to the next (>= stride * height); else ignored */
    void* data;
    size_t size;         /* bytes the caller has at data; checked against what the layout needs */
} autodir_image;

typedef enum autodir_progress_kind {
    AUTODIR_PROGRESS_PASS_START = 1, /* a pass begins (step, steps: 0) */
    AUTODIR_PROGRESS_STEP = 2,       /* sampling step `step` of `steps` is done */
    AUTODIR_PROGRESS_PASS_END = 3    /* a pass ended; detail: the class BIQA chose, or "prompt" */
} autodir_progress_kind;

typedef struct autodir_progress {
    autodir_progress_kind kind;
    int32_t pass;        /* counting from 0 */
    int32_t max_passes;
    int32_t step, steps;
    double elapsed_ms;   /* since the restore began */
    const char* detail;  /* UTF-8 or NULL; valid during the call */
} autodir_progress;

/*
 * Called on the restoring thread during a restore; return 0 to go on, non-zero to cancel (the restore then
 * returns AUTODIR_CANCELLED and the engine stays usable). Keep it quick; it must not call this library and
 * must not longjmp.
 */
typedef int (*autodir_progress_fn)(const autodir_progress* progress, void* user);

typedef struct autodir_options autodir_options;
typedef struct autodir_engine autodir_engine;

/* The library's ABI version (AUTODIR_ABI_VERSION of the header it was built with). Needs no JVM. */
AUTODIR_API uint32_t autodir_abi_version(void);

/* The message of the calling thread's last call ("" after a success). Needs no JVM. */
AUTODIR_API const char* autodir_last_error(void);

/* A constant name for a status ("AUTODIR_CANCELLED"). */
AUTODIR_API const char* autodir_status_name(autodir_status status);

/*
 * Optional, before any other call: where the JVM and the engine come from (NULL members: the environment, as
 * above). jvm_options replaces the default JVM options. Fails with AUTODIR_INVALID_ARGUMENT once the JVM exists.
 */
typedef struct autodir_init_params {
    const char* classpath;          /* the jar, or a class path; NULL: AUTODIR_CLASSPATH, then AUTODIR_JAR */
    const char* libjvm;             /* path of libjvm.so; NULL: AUTODIR_LIBJVM, then $JAVA_HOME/lib/server/libjvm.so */
    const char* const* jvm_options; /* NULL: AUTODIR_JVM_OPTIONS, then the defaults */
    int32_t jvm_option_count;
} autodir_init_params;

AUTODIR_API autodir_status autodir_init(const autodir_init_params* params);

/* The engine's version string (the jar's), into *version (release with autodir_free). */
AUTODIR_API autodir_status autodir_version(char** version);

AUTODIR_API autodir_status autodir_options_create(autodir_options** out);
/* Sets key to value (both UTF-8), checked as the command line checks the flag; a rejected value changes nothing. */
AUTODIR_API autodir_status autodir_options_set(autodir_options* options, const char* key, const char* value);
AUTODIR_API void autodir_options_destroy(autodir_options* options);

/* Opens the checkpoint and starts the backends of options (weights required); its restore options become the defaults. */
AUTODIR_API autodir_status autodir_engine_create(const autodir_options* options, autodir_engine** out);
/* Frees the weights and all native and device memory of the engine. NULL is a no-op. */
AUTODIR_API void autodir_engine_destroy(autodir_engine* engine);

/*
 * Restores input into output (same width and height; the formats may differ; output may be input's memory). options: restore options for this
 * call over the engine's (NULL: the engine's). progress: NULL for none. report_json: NULL, or receives the JSON
 * report of `autodir restore --report` for this image (release with autodir_free); it is set only on AUTODIR_OK.
 */
AUTODIR_API autodir_status autodir_restore(autodir_engine* engine, const autodir_options* options,
                                           const autodir_image* input, const autodir_image* output,
                                           autodir_progress_fn progress, void* user, char** report_json);

/*
 * Restores an image file (PNG, JPEG, TIFF) into a file whose extension picks the format (.png, .jpg, .tiff), with
 * the command line's rules: the output is written atomically, never over the input, and an existing output is
 * kept (AUTODIR_IMAGE_FILE) unless the option overwrite is "true".
 */
AUTODIR_API autodir_status autodir_restore_file(autodir_engine* engine, const autodir_options* options,
                                                const char* input_path, const char* output_path,
                                                autodir_progress_fn progress, void* user, char** report_json);

/* Releases a string this library returned. NULL is a no-op. */
AUTODIR_API void autodir_free(char* string);

#ifdef __cplusplus
}
#endif

#endif /* AUTODIR_H */
