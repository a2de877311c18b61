/*
 * A C host of libautodir.so for CApiHostTest: restores an image through the C API and checks its status paths.
 *
 * Usage: capi_host WEIGHTS CONFIG DIR WIDTH HEIGHT
 *   DIR/input.rgb      the input, WIDTH x HEIGHT tightly packed 8-bit RGB (written by the test)
 *   DIR/input.png      the same image as a PNG; DIR/corrupt.png a file that is no image
 * Writes DIR/out8.rgb (the RGB8 restore, tight), DIR/out16.rgb16 (RGB16 input and output, tight, native order),
 * DIR/outf.f32 (float planes, tight), DIR/again8.rgb (the RGB8 restore after a cancelled one),
 * DIR/thread0.rgb and DIR/thread1.rgb (two threads restoring at once), DIR/report.json (the RGB8 restore's report),
 * DIR/file_out.png (autodir_restore_file). Prints "ok NAME" per check; the first failed check prints
 * "FAILED NAME: ..." and exits 1.
 */
#include "autodir.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* dir;
static int W, H;

#define FAIL(name, ...) do { printf("FAILED %s: ", name); printf(__VA_ARGS__); printf("\n"); exit(1); } while (0)

static void expect(const char* name, autodir_status got, autodir_status want, const char* in_message) {
    if (got != want) FAIL(name, "status %s, expected %s (message: %s)", autodir_status_name(got), autodir_status_name(want), autodir_last_error());
    if (in_message != NULL && strstr(autodir_last_error(), in_message) == NULL) {
        FAIL(name, "message \"%s\" does not contain \"%s\"", autodir_last_error(), in_message);
    }
    printf("ok %s%s%s\n", name, want == AUTODIR_OK ? "" : ": ", want == AUTODIR_OK ? "" : autodir_last_error());
}

static char* path(const char* name) {
    static char buf[8][4096];
    static int k;
    char* p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static unsigned char* read_file(const char* name, size_t want) {
    FILE* f = fopen(path(name), "rb");
    if (f == NULL) FAIL("read", "cannot open %s", path(name));
    unsigned char* b = malloc(want);
    if (fread(b, 1, want, f) != want) FAIL("read", "%s is shorter than %zu bytes", path(name), want);
    fclose(f);
    return b;
}

static void write_file(const char* name, const void* data, size_t n) {
    FILE* f = fopen(path(name), "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n) FAIL("write", "cannot write %s", path(name));
    fclose(f);
}

/* Progress: counts events; cancels at the step given in user->cancel_at (0: never). */
typedef struct {
    int pass_starts, steps, pass_ends, cancel_at, last_step_ok;
    char last_class[64];
} counter;

static int on_progress(const autodir_progress* p, void* user) {
    counter* c = user;
    if (p->kind == AUTODIR_PROGRESS_PASS_START) c->pass_starts++;
    if (p->kind == AUTODIR_PROGRESS_STEP) {
        c->steps++;
        c->last_step_ok = p->step >= 1 && p->step <= p->steps && p->pass < p->max_passes;
        if (c->cancel_at > 0 && c->steps == c->cancel_at) return 1;
    }
    if (p->kind == AUTODIR_PROGRESS_PASS_END) {
        c->pass_ends++;
        snprintf(c->last_class, sizeof c->last_class, "%s", p->detail != NULL ? p->detail : "(null)");
    }
    return 0;
}

static autodir_image rgb8(unsigned char* data, int w, int h, size_t stride) {
    autodir_image im = {AUTODIR_PIXELS_RGB8, w, h, stride, 0, data, stride * (size_t) (h - 1) + 3 * (size_t) w};
    return im;
}

/* Copies a padded RGB8 image into a tight one, checking that the padding bytes still hold 0xAB. */
static unsigned char* unpad(const char* name, const unsigned char* padded, size_t stride) {
    unsigned char* tight = malloc(3 * (size_t) W * H);
    for (int y = 0; y < H; y++) {
        memcpy(tight + 3 * (size_t) W * y, padded + stride * y, 3 * (size_t) W);
        if (y < H - 1) {
            for (size_t x = 3 * (size_t) W; x < stride; x++) {
                if (padded[stride * y + x] != 0xAB) FAIL(name, "padding byte %zu of row %d was written", x, y);
            }
        }
    }
    return tight;
}

typedef struct { autodir_engine* engine; const unsigned char* input; unsigned char* output; autodir_status status; char error[512]; } job;

static void* restore_thread(void* arg) {
    job* j = arg;
    autodir_image in = rgb8((unsigned char*) j->input, W, H, 3 * (size_t) W), out = rgb8(j->output, W, H, 3 * (size_t) W);
    j->status = autodir_restore(j->engine, NULL, &in, &out, NULL, NULL, NULL);
    snprintf(j->error, sizeof j->error, "%s", autodir_last_error());
    return NULL;
}

static void* fail_in_thread(void* arg) {
    (void) arg;
    autodir_options* o = NULL;
    if (autodir_options_create(&o) != AUTODIR_OK) return (void*) 1;
    autodir_status st = autodir_options_set(o, "cfg-text", "not-a-number");
    int ok = st == AUTODIR_INVALID_ARGUMENT && strstr(autodir_last_error(), "cfg-text") != NULL;
    autodir_options_destroy(o);
    return (void*) (intptr_t) (ok ? 0 : 1);
}

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: capi_host WEIGHTS CONFIG DIR WIDTH HEIGHT\n");
        return 2;
    }
    const char* weights = argv[1];
    const char* config = argv[2];
    dir = argv[3];
    W = atoi(argv[4]);
    H = atoi(argv[5]);
    size_t tight = 3 * (size_t) W * H;

    if (autodir_abi_version() != AUTODIR_ABI_VERSION) FAIL("abi", "library ABI %u, header %d", autodir_abi_version(), AUTODIR_ABI_VERSION);
    printf("ok abi %u\n", autodir_abi_version());

    char* version = NULL;
    expect("version", autodir_version(&version), AUTODIR_OK, NULL);
    autodir_free(version);

    autodir_options* o = NULL;
    expect("options_create", autodir_options_create(&o), AUTODIR_OK, NULL);
    expect("unknown key", autodir_options_set(o, "stepz", "3"), AUTODIR_INVALID_ARGUMENT, "unknown option \"stepz\"");
    expect("run flag is no key", autodir_options_set(o, "output", "/tmp"), AUTODIR_INVALID_ARGUMENT, "unknown option \"output\"");
    expect("not a number", autodir_options_set(o, "steps", "abc"), AUTODIR_INVALID_ARGUMENT, "--steps");
    expect("out of range", autodir_options_set(o, "steps", "0"), AUTODIR_INVALID_ARGUMENT, "--steps must be in 1..1000, got 0");
    expect("bad colour mode", autodir_options_set(o, "color-correct", "sepia"), AUTODIR_INVALID_ARGUMENT, "--color-correct");
    expect("bad tiles", autodir_options_set(o, "tiles", "lots"), AUTODIR_INVALID_ARGUMENT, "--tiles");
    expect("bad memory budget", autodir_options_set(o, "memory-budget", "a lot"), AUTODIR_INVALID_ARGUMENT, "--memory-budget");
    expect("tiles", autodir_options_set(o, "tiles", "auto"), AUTODIR_OK, NULL);
    expect("missing weights file", autodir_options_set(o, "weights", "/nonexistent/model.ckpt"), AUTODIR_INVALID_ARGUMENT, "/nonexistent/model.ckpt");
    expect("NULL value", autodir_options_set(o, "steps", NULL), AUTODIR_INVALID_ARGUMENT, "value is NULL");

    autodir_engine* e = NULL;
    expect("engine without weights", autodir_engine_create(o, &e), AUTODIR_INVALID_ARGUMENT, "weights");

    write_file("corrupt.ckpt", "this is not a checkpoint, just some bytes", 41);
    autodir_options* bad = NULL;
    autodir_options_create(&bad);
    expect("corrupt checkpoint: set", autodir_options_set(bad, "weights", path("corrupt.ckpt")), AUTODIR_OK, NULL);
    expect("corrupt checkpoint: create", autodir_engine_create(bad, &e), AUTODIR_MODEL_FILE, "corrupt.ckpt");
    autodir_options_destroy(bad);

    expect("engine without weights, again", autodir_engine_create(o, &e), AUTODIR_INVALID_ARGUMENT, "weights");
    pthread_t ft;
    void* fr = NULL;
    pthread_create(&ft, NULL, fail_in_thread, NULL);
    pthread_join(ft, &fr);
    if (fr != NULL) FAIL("thread-local message", "the other thread did not get its own INVALID_ARGUMENT message");
    if (strstr(autodir_last_error(), "weights") == NULL) FAIL("thread-local message", "this thread's message changed: %s", autodir_last_error());
    printf("ok thread-local message\n");

    expect("weights", autodir_options_set(o, "weights", weights), AUTODIR_OK, NULL);
    expect("config", autodir_options_set(o, "config", config), AUTODIR_OK, NULL);
    expect("steps", autodir_options_set(o, "steps", "3"), AUTODIR_OK, NULL);
    expect("max-passes", autodir_options_set(o, "max-passes", "2"), AUTODIR_OK, NULL);
    expect("seed", autodir_options_set(o, "seed", "7"), AUTODIR_OK, NULL);
    expect("engine_create", autodir_engine_create(o, &e), AUTODIR_OK, NULL);

    unsigned char* input = read_file("input.rgb", tight);

    /* RGB8 in, RGB8 out with padded rows, progress and the report */
    size_t stride = 3 * (size_t) W + 5;
    unsigned char* padded = malloc(stride * H);
    memset(padded, 0xAB, stride * H);
    counter c = {0};
    char* report = NULL;
    autodir_image in = rgb8(input, W, H, 3 * (size_t) W), out = rgb8(padded, W, H, stride);
    expect("restore rgb8", autodir_restore(e, NULL, &in, &out, on_progress, &c, &report), AUTODIR_OK, NULL);
    if (report == NULL || strstr(report, "\"passes\"") == NULL || strstr(report, "\"stop_reason\"") == NULL) FAIL("report", "no report JSON");
    write_file("report.json", report, strlen(report));
    autodir_free(report);
    if (c.pass_starts < 1 || c.pass_starts != c.pass_ends || c.steps != 3 * c.pass_ends || !c.last_step_ok) {
        FAIL("progress", "pass starts %d, steps %d, pass ends %d", c.pass_starts, c.steps, c.pass_ends);
    }
    printf("ok progress: %d passes, %d steps, last class %s\n", c.pass_ends, c.steps, c.last_class);
    unsigned char* out8 = unpad("padding", padded, stride);
    write_file("out8.rgb", out8, tight);
    printf("ok padding untouched\n");

    /* float planes out, with a gap between planes */
    size_t fstride = 4 * (size_t) W, plane = fstride * H + 64;
    float* planes = calloc(3 * plane / 4, 4);
    autodir_image fout = {AUTODIR_PIXELS_FLOAT_PLANES, W, H, fstride, plane, planes, 3 * plane};
    expect("restore float planes", autodir_restore(e, NULL, &in, &fout, NULL, NULL, NULL), AUTODIR_OK, NULL);
    float* ftight = malloc(3 * fstride * H);
    for (int ch = 0; ch < 3; ch++) memcpy((char*) ftight + ch * fstride * H, (char*) planes + ch * plane, fstride * H);
    write_file("outf.f32", ftight, 3 * fstride * H);

    /* RGB16 in and out: the 8-bit levels times 257 */
    uint16_t* in16 = malloc(2 * tight);
    uint16_t* out16 = malloc(2 * tight);
    for (size_t i = 0; i < tight; i++) in16[i] = (uint16_t) (input[i] * 257);
    autodir_image i16 = {AUTODIR_PIXELS_RGB16, W, H, 6 * (size_t) W, 0, in16, 2 * tight};
    autodir_image o16 = {AUTODIR_PIXELS_RGB16, W, H, 6 * (size_t) W, 0, out16, 2 * tight};
    expect("restore rgb16", autodir_restore(e, NULL, &i16, &o16, NULL, NULL, NULL), AUTODIR_OK, NULL);
    write_file("out16.rgb16", out16, 2 * tight);

    /* buffers of the wrong size */
    unsigned char* small = malloc(tight);
    autodir_image short_out = rgb8(small, W, H, 3 * (size_t) W);
    short_out.size = tight - 1;
    expect("output buffer too small", autodir_restore(e, NULL, &in, &short_out, NULL, NULL, NULL), AUTODIR_INVALID_ARGUMENT, "bytes, but the buffer has");
    autodir_image narrow = rgb8(small, W - 1, H, 3 * (size_t) W);
    expect("output of another size", autodir_restore(e, NULL, &in, &narrow, NULL, NULL, NULL), AUTODIR_INVALID_ARGUMENT, "the input's size");
    autodir_image short_stride = rgb8(input, W, H, 3 * (size_t) W - 1);
    expect("stride shorter than a row", autodir_restore(e, NULL, &short_stride, &out, NULL, NULL, NULL), AUTODIR_INVALID_ARGUMENT, "stride");
    autodir_image null_data = rgb8(NULL, W, H, 3 * (size_t) W);
    expect("NULL pixels", autodir_restore(e, NULL, &null_data, &out, NULL, NULL, NULL), AUTODIR_INVALID_ARGUMENT, "data is NULL");
    in.format = (autodir_pixel_format) 9;
    expect("unknown pixel format", autodir_restore(e, NULL, &in, &out, NULL, NULL, NULL), AUTODIR_INVALID_ARGUMENT, "unknown pixel format 9");
    in.format = AUTODIR_PIXELS_RGB8;

    /* options of one call */
    autodir_options* run = NULL;
    autodir_options_create(&run);
    expect("engine key in a call: set", autodir_options_set(run, "weights", weights), AUTODIR_OK, NULL);
    expect("engine key in a call", autodir_restore(e, run, &in, &out, NULL, NULL, NULL), AUTODIR_INVALID_ARGUMENT, "is an engine option");
    autodir_options_destroy(run);

    /* cancel from the callback, then the engine still restores as before */
    counter cancel = {0};
    cancel.cancel_at = 2;
    unsigned char* again = malloc(tight);
    autodir_image aout = rgb8(again, W, H, 3 * (size_t) W);
    expect("cancel", autodir_restore(e, NULL, &in, &aout, on_progress, &cancel, NULL), AUTODIR_CANCELLED, "cancelled by the progress callback");
    if (cancel.steps != 2) FAIL("cancel", "the callback was called for %d steps after cancelling at 2", cancel.steps);
    expect("restore after cancel", autodir_restore(e, NULL, &in, &aout, NULL, NULL, NULL), AUTODIR_OK, NULL);
    write_file("again8.rgb", again, tight);

    /* two threads restoring on one engine */
    job jobs[2];
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (job) {e, input, malloc(tight), AUTODIR_INTERNAL, ""};
        pthread_create(&threads[t], NULL, restore_thread, &jobs[t]);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(threads[t], NULL);
        if (jobs[t].status != AUTODIR_OK) FAIL("threads", "thread %d: %s: %s", t, autodir_status_name(jobs[t].status), jobs[t].error);
        write_file(t == 0 ? "thread0.rgb" : "thread1.rgb", jobs[t].output, tight);
    }
    printf("ok threads\n");

    /* files */
    expect("corrupt image file", autodir_restore_file(e, NULL, path("corrupt.png"), path("x.png"), NULL, NULL, NULL), AUTODIR_IMAGE_FILE, "corrupt.png");
    expect("missing image file", autodir_restore_file(e, NULL, path("missing.png"), path("x.png"), NULL, NULL, NULL), AUTODIR_IMAGE_FILE, "file not found");
    expect("restore file", autodir_restore_file(e, NULL, path("input.png"), path("file_out.png"), NULL, NULL, NULL), AUTODIR_OK, NULL);
    expect("existing output kept", autodir_restore_file(e, NULL, path("input.png"), path("file_out.png"), NULL, NULL, NULL), AUTODIR_IMAGE_FILE, "already exists");
    expect("output over the input", autodir_restore_file(e, NULL, path("input.png"), path("input.png"), NULL, NULL, NULL), AUTODIR_IMAGE_FILE, "input");
    autodir_options* ow = NULL;
    autodir_options_create(&ow);
    expect("overwrite: set", autodir_options_set(ow, "overwrite", "true"), AUTODIR_OK, NULL);
    expect("overwrite", autodir_restore_file(e, ow, path("input.png"), path("file_out.png"), NULL, NULL, NULL), AUTODIR_OK, NULL);
    autodir_options_destroy(ow);

    autodir_engine_destroy(e);
    autodir_options_destroy(o);
    free(input); free(padded); free(out8); free(planes); free(ftight); free(in16); free(out16); free(small); free(again);
    for (int t = 0; t < 2; t++) free(jobs[t].output);
    printf("ok done\n");
    return 0;
}
