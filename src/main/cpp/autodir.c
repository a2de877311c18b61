/*
 * libautodir.so: the C API of autodir.h over the Java engine, through the JNI Invocation API.
 *
 * The JVM is created once per process (libjvm.so is opened with dlopen, so this library links to no JVM), each
 * calling thread is attached on its first call and detached when it exits (a pthread key's destructor), and every
 * call runs in a JNI local frame. Java exceptions are caught after every JNI call and turned into a status and a
 * per-thread message by dev.autodir.capi.NativeBridge.statusOf / messageOf. Strings cross as UTF-8 byte arrays.
 */
#define _GNU_SOURCE
#include "autodir.h"

#include <dlfcn.h>
#include <jni.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BRIDGE "dev/autodir/capi/NativeBridge"
#define DEFAULT_JVM_OPTIONS "-Xrs -XX:+UseSerialGC -XX:PretenureSizeThreshold=4m -XX:MaxRAMPercentage=75"

struct autodir_options { jobject ref; };
struct autodir_engine { jobject ref; };

/* ------------------------------------------------------------------ per-thread state: the message, the attachment */

typedef struct {
    char* error;
    int attached_by_us;
} thread_state;

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;
static JavaVM* vm;

static void state_free(void* p) {
    thread_state* s = p;
    if (s->attached_by_us && vm != NULL) (*vm)->DetachCurrentThread(vm);
    free(s->error);
    free(s);
}

static void state_key_create(void) { pthread_key_create(&state_key, state_free); }

static thread_state* state(void) {
    pthread_once(&state_once, state_key_create);
    thread_state* s = pthread_getspecific(state_key);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s != NULL && pthread_setspecific(state_key, s) != 0) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

/* Every API call starts here: the previous call's message goes. */
static void clear_error(void) {
    thread_state* s = state();
    if (s != NULL && s->error != NULL) {
        free(s->error);
        s->error = NULL;
    }
}

static autodir_status set_error(autodir_status status, const char* fmt, ...) {
    thread_state* s = state();
    if (s == NULL) return status;
    va_list ap;
    va_start(ap, fmt);
    char* msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    free(s->error);
    s->error = msg;
    return status;
}

const char* autodir_last_error(void) {
    thread_state* s = state();
    return s != NULL && s->error != NULL ? s->error : "";
}

uint32_t autodir_abi_version(void) { return AUTODIR_ABI_VERSION; }

const char* autodir_status_name(autodir_status status) {
    switch (status) {
        case AUTODIR_OK: return "AUTODIR_OK";
        case AUTODIR_INVALID_ARGUMENT: return "AUTODIR_INVALID_ARGUMENT";
        case AUTODIR_IMAGE_FILE: return "AUTODIR_IMAGE_FILE";
        case AUTODIR_MODEL_FILE: return "AUTODIR_MODEL_FILE";
        case AUTODIR_CANCELLED: return "AUTODIR_CANCELLED";
        case AUTODIR_OUT_OF_MEMORY: return "AUTODIR_OUT_OF_MEMORY";
        case AUTODIR_IO_ERROR: return "AUTODIR_IO_ERROR";
        case AUTODIR_RUNTIME_UNAVAILABLE: return "AUTODIR_RUNTIME_UNAVAILABLE";
        case AUTODIR_INTERNAL: return "AUTODIR_INTERNAL";
    }
    return "unknown autodir_status";
}

void autodir_free(char* string) { free(string); }

/* ------------------------------------------------------------------ the JVM */

static pthread_mutex_t vm_lock = PTHREAD_MUTEX_INITIALIZER;
static int ready;                /* the JVM runs and the bridge is bound (set once, with release) */
static int vm_failed;            /* JNI_CreateJavaVM was tried and failed: it cannot be tried again */
static char vm_failure[8192]; /* longer than any path[] message */
static char* init_classpath;
static char* init_libjvm;
static char** init_options;
static int init_option_count = -1; /* -1: not given */

static jclass bridge;
static jmethodID m_version, m_new_options, m_set_option, m_open, m_close, m_restore, m_restore_file, m_status_of, m_message_of;

static jint JNICALL native_progress(JNIEnv* env, jclass cls, jlong fn, jlong user, jint kind, jint pass, jint max_passes,
                                    jint step, jint steps, jdouble elapsed_ms, jbyteArray detail);

static char* dup_or_null(const char* s) { return s == NULL ? NULL : strdup(s); }

autodir_status autodir_init(const autodir_init_params* params) {
    clear_error();
    if (params == NULL) return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_init: params is NULL");
    if (params->jvm_option_count < 0 || (params->jvm_option_count > 0 && params->jvm_options == NULL)) {
        return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_init: jvm_options is NULL or jvm_option_count is negative");
    }
    pthread_mutex_lock(&vm_lock);
    autodir_status st = AUTODIR_OK;
    if (ready || vm_failed) {
        st = set_error(AUTODIR_INVALID_ARGUMENT, "autodir_init: the JVM has already been started; call autodir_init before any other call");
    } else {
        free(init_classpath);
        free(init_libjvm);
        init_classpath = dup_or_null(params->classpath);
        init_libjvm = dup_or_null(params->libjvm);
        if (params->jvm_options != NULL) {
            init_options = calloc((size_t) params->jvm_option_count + 1, sizeof(char*));
            for (int i = 0; init_options != NULL && i < params->jvm_option_count; i++) init_options[i] = dup_or_null(params->jvm_options[i]);
            init_option_count = params->jvm_option_count;
        }
    }
    pthread_mutex_unlock(&vm_lock);
    return st;
}

static int readable(const char* path) { return path != NULL && access(path, R_OK) == 0; }

/* Finds the bridge's class and methods, and registers progress0. Returns 0 or sets vm_failure. */
static int bind_bridge(JNIEnv* env, const char* classpath) {
    jclass c = (*env)->FindClass(env, BRIDGE);
    if (c == NULL) {
        (*env)->ExceptionClear(env);
        snprintf(vm_failure, sizeof vm_failure, "class dev.autodir.capi.NativeBridge not found on the class path \"%s\""
                 " (set AUTODIR_JAR to the engine's target/autodir.jar)", classpath != NULL ? classpath : "(the JVM's)");
        return -1;
    }
    struct { jmethodID* id; const char* name; const char* sig; } methods[] = {
        {&m_version, "version", "()[B"},
        {&m_new_options, "newOptions", "()Ljava/lang/Object;"},
        {&m_set_option, "setOption", "(Ljava/lang/Object;[B[B)V"},
        {&m_open, "open", "(Ljava/lang/Object;)Ljava/lang/Object;"},
        {&m_close, "close", "(Ljava/lang/Object;)V"},
        {&m_restore, "restore", "(Ljava/lang/Object;Ljava/lang/Object;Ljava/nio/ByteBuffer;IIIJJLjava/nio/ByteBuffer;IIIJJJJZ)[B"},
        {&m_restore_file, "restoreFile", "(Ljava/lang/Object;Ljava/lang/Object;[B[BJJZ)[B"},
        {&m_status_of, "statusOf", "(Ljava/lang/Throwable;)I"},
        {&m_message_of, "messageOf", "(Ljava/lang/Throwable;)[B"},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        *methods[i].id = (*env)->GetStaticMethodID(env, c, methods[i].name, methods[i].sig);
        if (*methods[i].id == NULL) {
            (*env)->ExceptionClear(env);
            snprintf(vm_failure, sizeof vm_failure, "dev.autodir.capi.NativeBridge has no method %s%s: the jar does not match"
                     " this libautodir.so (ABI %d)", methods[i].name, methods[i].sig, AUTODIR_ABI_VERSION);
            return -1;
        }
    }
    JNINativeMethod natives[] = {{"progress0", "(JJIIIIID[B)I", (void*) native_progress}};
    if ((*env)->RegisterNatives(env, c, natives, 1) != 0) {
        (*env)->ExceptionClear(env);
        snprintf(vm_failure, sizeof vm_failure, "cannot register NativeBridge.progress0: the jar does not match this libautodir.so");
        return -1;
    }
    bridge = (*env)->NewGlobalRef(env, c);
    (*env)->DeleteLocalRef(env, c);
    return 0;
}

/* Splits a space-separated option list into a NULL-terminated array (the caller frees both). */
static char** split_options(const char* list, int* count, char** storage) {
    *storage = strdup(list);
    char** out = calloc(strlen(list) / 2 + 2, sizeof(char*));
    *count = 0;
    if (*storage == NULL || out == NULL) return out;
    char* save = NULL;
    for (char* tok = strtok_r(*storage, " \t\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\n", &save)) out[(*count)++] = tok;
    return out;
}

/* Creates the JVM (under vm_lock, once), or adopts one the process already has. */
static autodir_status start_vm_locked(JNIEnv** env_out) {
    typedef jint (JNICALL *created_fn)(JavaVM**, jsize, jsize*);
    typedef jint (JNICALL *create_fn)(JavaVM**, void**, void*);
    char path[4096];

    created_fn existing = (created_fn) dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
    jsize n = 0;
    if (existing != NULL && existing(&vm, 1, &n) == JNI_OK && n > 0) {
        JNIEnv* env = NULL;
        if ((*vm)->AttachCurrentThreadAsDaemon(vm, (void**) &env, NULL) != JNI_OK || bind_bridge(env, NULL) != 0) {
            vm = NULL;
            if (vm_failure[0] == '\0') snprintf(vm_failure, sizeof vm_failure, "cannot attach to the process's JVM");
            vm_failed = 1;
            return AUTODIR_RUNTIME_UNAVAILABLE;
        }
        *env_out = env;
        return AUTODIR_OK;
    }

    const char* libjvm = init_libjvm != NULL ? init_libjvm : getenv("AUTODIR_LIBJVM");
    if (libjvm == NULL) {
        const char* home = getenv("JAVA_HOME");
        if (home == NULL) {
            snprintf(vm_failure, sizeof vm_failure, "no JVM: set JAVA_HOME to a Java 17+ runtime (or AUTODIR_LIBJVM to its libjvm.so)");
            return AUTODIR_RUNTIME_UNAVAILABLE;
        }
        snprintf(path, sizeof path, "%s/lib/server/libjvm.so", home);
        libjvm = path;
    }
    void* lib = dlopen(libjvm, RTLD_NOW | RTLD_GLOBAL);
    if (lib == NULL) {
        snprintf(vm_failure, sizeof vm_failure, "cannot load %s: %s (set JAVA_HOME to a Java 17+ runtime)", libjvm, dlerror());
        return AUTODIR_RUNTIME_UNAVAILABLE;
    }
    create_fn create = (create_fn) dlsym(lib, "JNI_CreateJavaVM");
    if (create == NULL) {
        snprintf(vm_failure, sizeof vm_failure, "%s has no JNI_CreateJavaVM: not a JVM library", libjvm);
        return AUTODIR_RUNTIME_UNAVAILABLE;
    }

    const char* classpath = init_classpath != NULL ? init_classpath : getenv("AUTODIR_CLASSPATH");
    if (classpath == NULL) {
        classpath = getenv("AUTODIR_JAR");
        if (classpath == NULL) {
            snprintf(vm_failure, sizeof vm_failure, "no engine: set AUTODIR_JAR to the engine's jar (target/autodir.jar)");
            return AUTODIR_RUNTIME_UNAVAILABLE;
        }
        if (!readable(classpath)) {
            snprintf(vm_failure, sizeof vm_failure, "AUTODIR_JAR=%s: no such readable file (build it with mvn -q -B package -DskipTests)", classpath);
            return AUTODIR_RUNTIME_UNAVAILABLE;
        }
    }

    char* storage = NULL;
    int user_count = 0;
    char** user = NULL;
    if (init_option_count >= 0) {
        user = init_options;
        user_count = init_option_count;
    } else {
        const char* env_options = getenv("AUTODIR_JVM_OPTIONS");
        user = split_options(env_options != NULL ? env_options : DEFAULT_JVM_OPTIONS, &user_count, &storage);
    }
    JavaVMOption* options = calloc((size_t) user_count + 3, sizeof(JavaVMOption));
    char* cp_option = NULL;
    if (options == NULL || user == NULL || asprintf(&cp_option, "-Djava.class.path=%s", classpath) < 0) {
        snprintf(vm_failure, sizeof vm_failure, "out of memory while starting the JVM");
        free(options);
        if (user != init_options) free(user);
        free(storage);
        return AUTODIR_OUT_OF_MEMORY;
    }
    int k = 0;
    options[k++].optionString = cp_option;
    options[k++].optionString = "--add-modules=jdk.incubator.vector";
    options[k++].optionString = "-Djava.awt.headless=true";
    for (int i = 0; i < user_count; i++) options[k++].optionString = user[i];
    JavaVMInitArgs args = {JNI_VERSION_10, k, options, JNI_FALSE};

    JNIEnv* env = NULL;
    jint r = create(&vm, (void**) &env, &args);
    free(cp_option);
    free(options);
    if (user != init_options) free(user);
    free(storage);
    if (r != JNI_OK) {
        vm = NULL;
        vm_failed = 1;
        snprintf(vm_failure, sizeof vm_failure, "JNI_CreateJavaVM failed (error %d): check the JVM options (AUTODIR_JVM_OPTIONS)"
                 " and that %s is a Java 17+ runtime", (int) r, libjvm);
        return AUTODIR_RUNTIME_UNAVAILABLE;
    }
    if (bind_bridge(env, classpath) != 0) {
        vm_failed = 1; /* the JVM exists but cannot serve us: a second JVM cannot be created */
        return AUTODIR_RUNTIME_UNAVAILABLE;
    }
    thread_state* s = state();
    if (s != NULL) s->attached_by_us = 1;
    *env_out = env;
    return AUTODIR_OK;
}

/* The calling thread's JNIEnv: starts the JVM on first use and attaches the thread. */
static autodir_status get_env(JNIEnv** env) {
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&vm_lock);
        autodir_status st = AUTODIR_OK;
        if (!ready) {
            if (vm_failed) st = AUTODIR_RUNTIME_UNAVAILABLE;
            else st = start_vm_locked(env);
            if (st == AUTODIR_OK) __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
            else st = set_error(st, "%s", vm_failure);
        }
        pthread_mutex_unlock(&vm_lock);
        if (st != AUTODIR_OK) return st;
    }
    JavaVM* v = vm;
    jint r = (*v)->GetEnv(v, (void**) env, JNI_VERSION_10);
    if (r == JNI_OK) return AUTODIR_OK;
    if (r != JNI_EDETACHED) return set_error(AUTODIR_RUNTIME_UNAVAILABLE, "JNI GetEnv failed (error %d)", (int) r);
    JavaVMAttachArgs attach = {JNI_VERSION_10, "autodir-host", NULL};
    if ((*v)->AttachCurrentThreadAsDaemon(v, (void**) env, &attach) != JNI_OK) {
        return set_error(AUTODIR_RUNTIME_UNAVAILABLE, "cannot attach this thread to the JVM");
    }
    thread_state* s = state();
    if (s != NULL) s->attached_by_us = 1;
    return AUTODIR_OK;
}

/* ------------------------------------------------------------------ JNI helpers */

static char* copy_bytes(JNIEnv* env, jbyteArray a) {
    jsize n = (*env)->GetArrayLength(env, a);
    char* s = malloc((size_t) n + 1);
    if (s == NULL) return NULL;
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte*) s);
    s[n] = '\0';
    return s;
}

static jbyteArray to_bytes(JNIEnv* env, const char* s) {
    if (s == NULL) return NULL;
    jsize n = (jsize) strlen(s);
    jbyteArray a = (*env)->NewByteArray(env, n);
    if (a != NULL) (*env)->SetByteArrayRegion(env, a, 0, n, (const jbyte*) s);
    return a;
}

/* Turns a pending Java exception into a status and the thread's message; AUTODIR_OK when none is pending. */
static autodir_status java_status(JNIEnv* env) {
    if (!(*env)->ExceptionCheck(env)) return AUTODIR_OK;
    jthrowable t = (*env)->ExceptionOccurred(env);
    (*env)->ExceptionClear(env);
    jint st = (*env)->CallStaticIntMethod(env, bridge, m_status_of, t);
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionClear(env);
        st = AUTODIR_INTERNAL;
    }
    jbyteArray msg = (*env)->CallStaticObjectMethod(env, bridge, m_message_of, t);
    if ((*env)->ExceptionCheck(env) || msg == NULL) {
        (*env)->ExceptionClear(env);
        return set_error((autodir_status) st, "a Java exception that could not be described (out of memory?)");
    }
    char* s = copy_bytes(env, msg);
    autodir_status out = set_error((autodir_status) st, "%s", s != NULL ? s : "(message lost: out of memory)");
    free(s);
    return out;
}

/* Enter/leave one API call: the thread's JNIEnv and a local frame for the references the call makes. */
#define ENTER(env)                                                                   \
    JNIEnv* env = NULL;                                                              \
    clear_error();                                                                   \
    {                                                                                \
        autodir_status entered = get_env(&env);                                      \
        if (entered != AUTODIR_OK) return entered;                                   \
        if ((*env)->PushLocalFrame(env, 32) != 0) {                                  \
            (*env)->ExceptionClear(env);                                             \
            return set_error(AUTODIR_OUT_OF_MEMORY, "no memory for JNI references"); \
        }                                                                            \
    }

static autodir_status leave(JNIEnv* env, autodir_status st) {
    (*env)->PopLocalFrame(env, NULL);
    return st;
}

/* A NUL-terminated copy of a returned UTF-8 byte array into *out (if out is not NULL). */
static autodir_status return_string(JNIEnv* env, jbyteArray a, char** out) {
    if (out == NULL) return AUTODIR_OK;
    *out = NULL;
    if (a == NULL) return AUTODIR_OK;
    *out = copy_bytes(env, a);
    return *out != NULL ? AUTODIR_OK : set_error(AUTODIR_OUT_OF_MEMORY, "no memory for the returned string");
}

/* ------------------------------------------------------------------ the API */

autodir_status autodir_version(char** version) {
    if (version == NULL) {
        clear_error();
        return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_version: version is NULL");
    }
    ENTER(env);
    jbyteArray v = (*env)->CallStaticObjectMethod(env, bridge, m_version);
    autodir_status st = java_status(env);
    if (st == AUTODIR_OK) st = return_string(env, v, version);
    return leave(env, st);
}

autodir_status autodir_options_create(autodir_options** out) {
    if (out == NULL) {
        clear_error();
        return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_options_create: out is NULL");
    }
    *out = NULL;
    ENTER(env);
    jobject o = (*env)->CallStaticObjectMethod(env, bridge, m_new_options);
    autodir_status st = java_status(env);
    if (st == AUTODIR_OK) {
        autodir_options* h = malloc(sizeof *h);
        if (h == NULL) return leave(env, set_error(AUTODIR_OUT_OF_MEMORY, "no memory for an options handle"));
        h->ref = (*env)->NewGlobalRef(env, o);
        *out = h;
    }
    return leave(env, st);
}

autodir_status autodir_options_set(autodir_options* options, const char* key, const char* value) {
    if (options == NULL || key == NULL || value == NULL) {
        clear_error();
        return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_options_set: %s is NULL",
                         options == NULL ? "options" : key == NULL ? "key" : "value");
    }
    ENTER(env);
    jbyteArray k = to_bytes(env, key), v = to_bytes(env, value);
    autodir_status st = java_status(env);
    if (st == AUTODIR_OK) {
        (*env)->CallStaticVoidMethod(env, bridge, m_set_option, options->ref, k, v);
        st = java_status(env);
    }
    return leave(env, st);
}

void autodir_options_destroy(autodir_options* options) {
    if (options == NULL) return;
    JNIEnv* env = NULL;
    clear_error();
    if (get_env(&env) == AUTODIR_OK) (*env)->DeleteGlobalRef(env, options->ref);
    free(options);
}

autodir_status autodir_engine_create(const autodir_options* options, autodir_engine** out) {
    if (options == NULL || out == NULL) {
        clear_error();
        return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_engine_create: %s is NULL", options == NULL ? "options" : "out");
    }
    *out = NULL;
    ENTER(env);
    jobject e = (*env)->CallStaticObjectMethod(env, bridge, m_open, options->ref);
    autodir_status st = java_status(env);
    if (st == AUTODIR_OK) {
        autodir_engine* h = malloc(sizeof *h);
        if (h == NULL) {
            (*env)->CallStaticVoidMethod(env, bridge, m_close, e);
            (*env)->ExceptionClear(env);
            return leave(env, set_error(AUTODIR_OUT_OF_MEMORY, "no memory for an engine handle"));
        }
        h->ref = (*env)->NewGlobalRef(env, e);
        *out = h;
    }
    return leave(env, st);
}

void autodir_engine_destroy(autodir_engine* engine) {
    if (engine == NULL) return;
    JNIEnv* env = NULL;
    clear_error();
    if (get_env(&env) == AUTODIR_OK) {
        if ((*env)->PushLocalFrame(env, 8) == 0) {
            (*env)->CallStaticVoidMethod(env, bridge, m_close, engine->ref);
            java_status(env); /* a failure to free is reported through autodir_last_error() */
            (*env)->PopLocalFrame(env, NULL);
        } else {
            (*env)->ExceptionClear(env);
        }
        (*env)->DeleteGlobalRef(env, engine->ref);
    }
    free(engine);
}

static autodir_status check_image(const autodir_image* image, const char* what) {
    if (image == NULL) return set_error(AUTODIR_INVALID_ARGUMENT, "%s: the image is NULL", what);
    if (image->data == NULL) return set_error(AUTODIR_INVALID_ARGUMENT, "%s: data is NULL", what);
    if (image->size > (size_t) INT64_MAX || image->stride > (size_t) INT64_MAX || image->plane_stride > (size_t) INT64_MAX) {
        return set_error(AUTODIR_INVALID_ARGUMENT, "%s: size or stride out of range", what);
    }
    return AUTODIR_OK;
}

autodir_status autodir_restore(autodir_engine* engine, const autodir_options* options, const autodir_image* input,
                               const autodir_image* output, autodir_progress_fn progress, void* user, char** report_json) {
    if (report_json != NULL) *report_json = NULL;
    clear_error();
    if (engine == NULL) return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_restore: engine is NULL");
    autodir_status st = check_image(input, "input");
    if (st == AUTODIR_OK) st = check_image(output, "output");
    if (st != AUTODIR_OK) return st;
    ENTER(env);
    /* the input is only read: the const is dropped for the ByteBuffer, which Java does not write */
    jobject in = (*env)->NewDirectByteBuffer(env, input->data, (jlong) input->size);
    jobject out = (*env)->NewDirectByteBuffer(env, output->data, (jlong) output->size);
    st = java_status(env);
    if (st == AUTODIR_OK && (in == NULL || out == NULL)) st = set_error(AUTODIR_INTERNAL, "this JVM does not give JNI access to direct buffers");
    if (st != AUTODIR_OK) return leave(env, st);
    jbyteArray report = (*env)->CallStaticObjectMethod(env, bridge, m_restore, engine->ref, options == NULL ? NULL : options->ref,
            in, (jint) input->format, (jint) input->width, (jint) input->height, (jlong) input->stride, (jlong) input->plane_stride,
            out, (jint) output->format, (jint) output->width, (jint) output->height, (jlong) output->stride, (jlong) output->plane_stride,
            (jlong) (intptr_t) progress, (jlong) (intptr_t) user, (jboolean) (report_json != NULL));
    st = java_status(env);
    if (st == AUTODIR_OK) st = return_string(env, report, report_json);
    return leave(env, st);
}

autodir_status autodir_restore_file(autodir_engine* engine, const autodir_options* options, const char* input_path,
                                    const char* output_path, autodir_progress_fn progress, void* user, char** report_json) {
    if (report_json != NULL) *report_json = NULL;
    clear_error();
    if (engine == NULL || input_path == NULL || output_path == NULL) {
        return set_error(AUTODIR_INVALID_ARGUMENT, "autodir_restore_file: %s is NULL",
                         engine == NULL ? "engine" : input_path == NULL ? "input_path" : "output_path");
    }
    ENTER(env);
    jbyteArray in = to_bytes(env, input_path), out = to_bytes(env, output_path);
    autodir_status st = java_status(env);
    if (st != AUTODIR_OK) return leave(env, st);
    jbyteArray report = (*env)->CallStaticObjectMethod(env, bridge, m_restore_file, engine->ref, options == NULL ? NULL : options->ref,
            in, out, (jlong) (intptr_t) progress, (jlong) (intptr_t) user, (jboolean) (report_json != NULL));
    st = java_status(env);
    if (st == AUTODIR_OK) st = return_string(env, report, report_json);
    return leave(env, st);
}

/* NativeBridge.progress0: calls the host's callback on the restoring thread. */
static jint JNICALL native_progress(JNIEnv* env, jclass cls, jlong fn, jlong user, jint kind, jint pass, jint max_passes,
                                    jint step, jint steps, jdouble elapsed_ms, jbyteArray detail) {
    (void) cls;
    char* d = detail == NULL ? NULL : copy_bytes(env, detail);
    autodir_progress p = {(autodir_progress_kind) kind, pass, max_passes, step, steps, elapsed_ms, d};
    autodir_progress_fn callback = (autodir_progress_fn) (intptr_t) fn;
    int r = callback(&p, (void*) (intptr_t) user);
    free(d);
    return r;
}
