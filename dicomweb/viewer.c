// SPDX-License-Identifier: MIT
/*
 * The web viewer at /viewer (viewer.h): OHIF's prebuilt app served as static files from one
 * folder, its app-config.js written here at start-up, and the share pages at /share/{token}
 * (share_page.c, with the phone viewer of share_assets/ inlined).
 *
 * Load: a browser opening the viewer asks for a few dozen files once (about 5 MB compressed,
 * most of it the content-hashed bundles it then keeps for a year); after that only index.html
 * and app-config.js are revalidated. Files are streamed with pread from a descriptor opened
 * below the folder's own descriptor, never read whole.
 *
 * Thread-safety: the viewer is read-only after pacs_viewer_open; requests share it freely.
 */
#include "dicomweb/viewer.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dicomweb/share_page.h"
#include "pacs/base/log.h"

#define MAX_REL 1024   /* longest path below the folder */
#define MAX_SEGMENTS 8 /* deepest path below the folder */
#define YEAR "public, max-age=31536000, immutable"

struct pacs_viewer {
    int dirfd; /* the folder, or -1 when the viewer is missing */
    char root[PATH_MAX];
    char version[160];   /* from the .pacs-viewer stamp scripts/viewer.sh writes */
    char *app_config;    /* app-config.js */
    int oidc;            /* OHIF signs users in at viewer.oidc.authority */
    char *missing_html;  /* the 503 page when the viewer is missing */
    pacs_shares *shares; /* for the share pages; NULL when the store cannot be opened */
};

/* ---- finding the folder ---- */

static int has_index(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/index.html", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The default folders, beside the running binary: BUILD/bin/pacsd finds BUILD/viewer, and
 * PREFIX/bin/pacsd finds PREFIX/share/pacsd/viewer. */
static int find_default(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        return 0;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) {
        return 0;
    }
    *slash = '\0';
    static const char *const rel[] = {"../viewer", "../share/pacsd/viewer"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]);
        char real[PATH_MAX];
        if (realpath(cand, real) && has_index(real) && strlen(real) < cap) {
            memcpy(out, real, strlen(real) + 1);
            return 1;
        }
    }
    return 0;
}

/* The transfer syntaxes viewer.frames may name: those pacs/image writes that OHIF 3.13 asks
 * for with their own media type (its typeForTS) and decodes. */
static const char *const frame_syntaxes[] = {
    "1.2.840.10008.1.2.4.80", /* JPEG-LS lossless: about a third of raw CT, decodes fast */
    "1.2.840.10008.1.2.4.90", /* JPEG 2000 lossless */
    "1.2.840.10008.1.2.4.70", /* JPEG lossless SV1 */
    "1.2.840.10008.1.2.5",    /* RLE */
    "1.2.840.10008.1.2.4.50", /* JPEG baseline: lossy, 8-bit */
};

/* viewer.frames: "stored" (frames as stored, transfer-syntax=*) or one of frame_syntaxes. */
static const char *frames_syntax(const pacs_config *cfg, pacs_errinfo *ei)
{
    const char *want = pacs_config_str(cfg, "viewer.frames");
    if (!want[0] || strcmp(want, "stored") == 0) {
        return "*";
    }
    for (size_t i = 0; i < sizeof frame_syntaxes / sizeof frame_syntaxes[0]; i++) {
        if (strcmp(want, frame_syntaxes[i]) == 0) {
            return frame_syntaxes[i];
        }
    }
    pacs_errf(ei, PACS_EINVAL,
              "viewer.frames = %.80s: say stored, or one of 1.2.840.10008.1.2.4.80 (JPEG-LS), "
              ".4.90 (JPEG 2000), .4.70 (JPEG lossless), 1.2.840.10008.1.2.5 (RLE), .4.50 "
              "(JPEG, lossy)",
              want);
    return NULL;
}

/* viewer.oidc.params, "a=b&c=d", as the object OHIF passes to its OIDC client
 * (extraQueryParams). Values are taken as written; the client URL-encodes them. */
static json_t *oidc_params(const char *text, pacs_errinfo *ei)
{
    json_t *o = json_object();
    const char *p = text;
    while (o && *p) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t nl = eq ? (size_t)(eq - p) : 0;
        char name[64];
        if (nl == 0 || nl >= sizeof name ||
            strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") < nl) {
            pacs_errf(ei, PACS_EINVAL,
                      "viewer.oidc.params = %.120s: say name=value&name=value (names of letters, "
                      "digits, _ . -)",
                      text);
            json_decref(o);
            return NULL;
        }
        memcpy(name, p, nl);
        name[nl] = '\0';
        if (json_object_set_new(o, name, json_stringn(eq + 1, n - nl - 1)) != 0) {
            pacs_errf(ei, PACS_EINVAL, "viewer.oidc.params: the value of %s is not UTF-8", name);
            json_decref(o);
            return NULL;
        }
        p += n + (p[n] == '&');
    }
    if (!o) {
        pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    return o;
}

/* The `oidc` entry of app-config.js for viewer.oidc.* ("" when the authority is not set), so
 * that OHIF itself signs users in at the identity provider (code flow with PKCE) and sends
 * the access token to DICOMweb, where auth.jwt_* must accept it: refused here otherwise. The
 * paths are OHIF's own routes below routerBasename (the provider's client must allow them). */
static char *make_oidc(const pacs_config *cfg, pacs_errinfo *ei)
{
    const char *authority = pacs_config_str(cfg, "viewer.oidc.authority");
    const char *client = pacs_config_str(cfg, "viewer.oidc.client_id");
    const char *scope = pacs_config_str(cfg, "viewer.oidc.scope");
    if (!authority[0] && !client[0]) {
        char *none = strdup("");
        if (!none) {
            pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        return none;
    }
    if (strncmp(authority, "https://", 8) != 0 && strncmp(authority, "http://", 7) != 0) {
        pacs_errf(ei, PACS_EINVAL,
                  "viewer.oidc.authority = %.120s: say the identity provider's issuer URL "
                  "(https://...), which the viewer's client id %.60s belongs to",
                  authority, client);
        return NULL;
    }
    if (!client[0]) {
        pacs_errf(ei, PACS_EINVAL,
                  "viewer.oidc.authority needs viewer.oidc.client_id: the "
                  "viewer's client id at the identity provider");
        return NULL;
    }
    if (!pacs_config_str(cfg, "auth.jwt_keys")[0] || !pacs_config_str(cfg, "auth.jwt_issuer")[0]) {
        pacs_errf(ei, PACS_EINVAL,
                  "viewer.oidc.authority needs auth.jwt_keys, auth.jwt_issuer and "
                  "auth.jwt_audience: DICOMweb must accept the provider's access tokens the "
                  "viewer sends (docs/security.md, OpenID Connect)");
        return NULL;
    }
    if (!strstr(scope, "openid")) {
        pacs_errf(ei, PACS_EINVAL, "viewer.oidc.scope = %.120s: OpenID Connect needs openid",
                  scope);
        return NULL;
    }
    json_t *params = oidc_params(pacs_config_str(cfg, "viewer.oidc.params"), ei);
    if (!params) {
        return NULL;
    }
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "authority", authority, "client_id",
                  client, "scope", scope, "response_type", "code", "redirect_uri", "/callback",
                  "post_logout_redirect_uri", "/signed-out", "extraQueryParams", params);
    if (!o) {
        pacs_errf(ei, PACS_EINVAL, "viewer.oidc.authority, client_id and scope must be UTF-8");
        return NULL;
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_ESCAPE_SLASH);
    json_decref(o);
    char *line = NULL;
    if (!text || asprintf(&line, "    oidc: [%s],\n", text) < 0) {
        line = NULL;
        pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    free(text);
    return line;
}

/* app-config.js: OHIF's DICOMweb data source on this server's own root, same origin; with
 * viewer.oidc.*, its sign-in at the identity provider. */
static char *make_app_config(const pacs_config *cfg, const char *frames, const char *oidc)
{
    json_t *prefix = json_string(pacs_config_str(cfg, "http.prefix"));
    char *root = prefix ? json_dumps(prefix, JSON_ENCODE_ANY | JSON_ESCAPE_SLASH) : NULL;
    json_decref(prefix);
    if (!root) {
        return NULL;
    }
    char *text = NULL;
    int n = asprintf(
        &text,
        "/* Written by pacsd at start-up (dicomweb/viewer.c): OHIF's configuration for this\n"
        " * server. DICOMweb is on the same origin, so cookies (share links) go with every\n"
        " * request and no CORS is needed. */\n"
        "(function () {\n"
        "  var root = window.location.origin + %s;\n"
        "  window.config = {\n"
        "    name: 'pacsd',\n"
        "    routerBasename: '" PACS_VIEWER_PATH "',\n"
        "    extensions: [],\n"
        "    modes: [],\n"
        "    customizationService: {},\n"
        "    showStudyList: true,\n"
        "    maxNumberOfWebWorkers: 3,\n"
        "    showWarningMessageForCrossOrigin: false,\n"
        "    showCPUFallbackMessage: true,\n"
        "    showLoadingIndicator: true,\n"
        "    strictZSpacingForVolumeViewport: true,\n"
        "    investigationalUseDialog: { option: 'never' },\n"
        "%s"
        /* Thumbnails first: their own small pool is served before the frames queue. */
        "    maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 10 },\n"
        "    defaultDataSourceName: 'pacsd',\n"
        "    dataSources: [{\n"
        "      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',\n"
        "      sourceName: 'pacsd',\n"
        "      configuration: {\n"
        "        friendlyName: 'pacsd',\n"
        "        name: 'pacsd',\n"
        "        qidoRoot: root,\n"
        "        wadoRoot: root,\n"
        "        wadoUriRoot: root + '/wado',\n"
        "        qidoSupportsIncludeField: true,\n"
        "        supportsFuzzyMatching: true,\n"
        "        supportsWildcard: true,\n"
        "        supportsReject: false,\n"
        "        dicomUploadEnabled: false,\n"
        "        staticWado: false,\n"
        "        enableStudyLazyLoad: true,\n"
        /* Thumbnails are drawn by the server (a 256x256 JPEG of a middle slice per series),
         * not decoded from frames in the browser. */
        "        thumbnailRendering: 'thumbnail',\n"
        "        thumbnailRequestStrategy: 'fetch',\n"
        /* By default frames as stored (transfer-syntax=*): compressed series (JPEG, JPEG-LS,
         * JPEG 2000, HTJ2K, RLE) travel compressed and OHIF decodes them; pacsd never inflates
         * them. viewer.frames names a syntax every frame is asked in instead (for slow links:
         * uncompressed series then travel compressed, at the server's CPU cost). */
        "        imageRendering: 'wadors',\n"
        "        requestTransferSyntaxUID: '%s',\n"
        "        omitQuotationForMultipartRequest: true,\n"
        "        singlepart: 'bulkdata,video,pdf',\n"
        "        bulkDataURI: { enabled: true, relativeResolution: 'studies' },\n"
        "      },\n"
        "    }],\n"
        "  };\n"
        "})();\n",
        root, oidc, frames);
    free(root);
    return n < 0 ? NULL : text;
}

pacs_err pacs_viewer_open(const pacs_config *cfg, pacs_viewer **out, pacs_errinfo *ei)
{
    pacs_viewer *v = calloc(1, sizeof *v);
    if (!v) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    v->dirfd = -1;
    const char *frames = frames_syntax(cfg, ei);
    if (!frames) {
        free(v);
        return PACS_EINVAL;
    }
    char *oidc = make_oidc(cfg, ei);
    if (!oidc) {
        free(v);
        return ei->code;
    }
    v->oidc = oidc[0] != '\0';
    v->app_config = make_app_config(cfg, frames, oidc);
    free(oidc);
    if (asprintf(&v->missing_html,
                 "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                 "<title>Viewer not installed</title></head><body>"
                 "<h1>The web viewer is missing</h1><p>The web viewer is not installed on "
                 "this server, so images cannot be shown in the browser here. DICOMweb "
                 "itself works.</p><p>To install it: run <code>scripts/viewer.sh</code> "
                 "(it needs npm and the npm registry), or rebuild, then restart pacsd.</p>"
                 "</body></html>\n") < 0) {
        v->missing_html = NULL;
    }
    if (!v->app_config || !v->missing_html) {
        pacs_viewer_close(v);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_errinfo sei;
    if (pacs_shares_open_at(pacs_config_str(cfg, "data"), pacs_config_str(cfg, "index"), &v->shares,
                            &sei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "viewer", "share links cannot be opened: %s", sei.msg);
        v->shares = NULL;
    }
    const char *want = pacs_config_str(cfg, "viewer.root");
    int found = 0;
    if (want[0]) {
        found = realpath(want, v->root) && has_index(v->root);
    } else {
        found = find_default(v->root, sizeof v->root);
    }
    if (found) {
        v->dirfd = open(v->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (v->dirfd < 0) {
        pacs_log(PACS_LOG_WARN, "viewer",
                 "the web viewer is missing (%s): /viewer answers 503 until it is installed "
                 "(scripts/viewer.sh, or rebuild with npm and the npm registry reachable)",
                 want[0] ? want : "no viewer folder beside the binary");
        v->root[0] = '\0';
    } else {
        char stamp[PATH_MAX + 32];
        snprintf(stamp, sizeof stamp, "%s/.pacs-viewer", v->root);
        FILE *f = fopen(stamp, "r");
        if (f) {
            if (fgets(v->version, sizeof v->version, f)) {
                v->version[strcspn(v->version, " \n")] = '\0';
            }
            fclose(f);
        }
        pacs_log(PACS_LOG_INFO, "viewer", "web viewer %s at " PACS_VIEWER_PATH " from %s",
                 v->version[0] ? v->version : "(unknown version)", v->root);
    }
    *out = v;
    return PACS_OK;
}

void pacs_viewer_close(pacs_viewer *v)
{
    if (!v) {
        return;
    }
    if (v->dirfd >= 0) {
        close(v->dirfd);
    }
    pacs_shares_close(v->shares);
    free(v->app_config);
    free(v->missing_html);
    free(v);
}

int pacs_viewer_installed(const pacs_viewer *v)
{
    return v && v->dirfd >= 0;
}

int pacs_viewer_oidc(const pacs_viewer *v)
{
    return v && v->oidc;
}

static int path_is(const char *path, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(path, word, n) == 0 && (len == n || path[n] == '/');
}

int pacs_viewer_owns(const char *path, size_t len)
{
    return path_is(path, len, PACS_VIEWER_PATH) || path_is(path, len, "/share");
}

int pacs_viewer_is_page(const char *path, size_t len)
{
    if (!path_is(path, len, PACS_VIEWER_PATH)) {
        return 0;
    }
    /* The app's routes (no dot in the last segment); its files are OHIF's public code. */
    const char *last = path + len;
    while (last > path && last[-1] != '/') {
        last--;
    }
    return memchr(last, '.', (size_t)(path + len - last)) == NULL;
}

size_t pacs_viewer_loggable(const char *path, size_t len)
{
    return path_is(path, len, "/share") ? 6 : len;
}

/* ---- static files ---- */

typedef struct file_ctx {
    int fd;
    uint64_t off, size;
} file_ctx;

static pacs_err file_fill(void *ctx, char *buf, size_t max, size_t *n, int *eof, pacs_errinfo *ei)
{
    file_ctx *f = ctx;
    uint64_t left = f->size - f->off;
    size_t want = left < max ? (size_t)left : max;
    ssize_t got = pread(f->fd, buf, want, (off_t)f->off);
    if (got < 0 && errno == EINTR) {
        got = 0;
    } else if (got <= 0 && want > 0) {
        return pacs_errf(ei, PACS_EIO, "viewer file shrank or cannot be read");
    }
    f->off += (uint64_t)got;
    *n = (size_t)got;
    *eof = f->off >= f->size;
    return PACS_OK;
}

static void file_release(void *ctx)
{
    file_ctx *f = ctx;
    close(f->fd);
    free(f);
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".wasm", "application/wasm"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".txt", "text/plain; charset=utf-8"},
        {".xml", "application/xml"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcasecmp(dot, types[i].ext) == 0) {
                return types[i].type;
            }
        }
    }
    return "application/octet-stream";
}

/* Webpack names its bundles and assets with a content hash (app.bundle.0f6159c501addfe9.js,
 * 5130ccb17e3f3f5b.wasm): such a file never changes under its name and may be kept for a year.
 * Everything else is revalidated. */
static int content_hashed(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t run = 0;
    for (const char *p = base; *p; p++) {
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) {
            run++;
        } else {
            if (run >= 16 && *p == '.') {
                return 1;
            }
            run = 0;
        }
    }
    return 0;
}

static int open_below(const pacs_viewer *v, const char *rel, struct stat *st)
{
    int fd = openat(v->dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        errno = EISDIR;
        return -1;
    }
    return fd;
}

/* Sends `fd` (taken) with our headers; `gz` when it is the .gz twin. */
static void send_file(pacs_http_req *r, int fd, const struct stat *st, const char *rel, int gz,
                      int has_twin)
{
    char etag[80];
    snprintf(etag, sizeof etag, "\"%llx-%llx%s\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st->st_mtim.tv_nsec,
             gz ? "-gz" : "");
    pacs_http_add_header(r, "ETag", etag);
    pacs_http_add_header(r, "Cache-Control", content_hashed(rel) ? YEAR : "no-cache");
    pacs_http_add_header(r, "X-Content-Type-Options", "nosniff");
    if (has_twin) {
        pacs_http_add_header(r, "Vary", "Accept-Encoding");
    }
    const char *inm = pacs_http_header(r, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        close(fd);
        pacs_buf empty;
        pacs_buf_init(&empty, 1);
        pacs_http_send_buf(r, 304, NULL, &empty, 0);
        return;
    }
    if (gz) {
        pacs_http_add_header(r, "Content-Encoding", "gzip");
    }
    file_ctx *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    f->fd = fd;
    f->size = (uint64_t)st->st_size;
    pacs_http_send_fill(r, 200, content_type(rel), f->size, file_fill, f, file_release);
}

/* Serves `rel` (checked, below the folder); 0 when no such file. */
static int serve_rel(const pacs_viewer *v, pacs_http_req *r, const char *rel)
{
    struct stat st;
    int fd = open_below(v, rel, &st);
    if (fd < 0) {
        return 0;
    }
    char gzname[MAX_REL + 8];
    snprintf(gzname, sizeof gzname, "%s.gz", rel);
    struct stat gst;
    int gfd = open_below(v, gzname, &gst);
    if (gfd >= 0 && pacs_http_accepts_gzip(r)) {
        close(fd);
        send_file(r, gfd, &gst, rel, 1, 1);
        return 1;
    }
    if (gfd >= 0) {
        close(gfd);
    }
    send_file(r, fd, &st, rel, 0, gfd >= 0);
    return 1;
}

/* Decodes the path below /viewer/ into "a/b/c", refusing anything that could leave the
 * folder or name a hidden file. -1: refused; 0: ok (`out` may be empty). */
static int clean_path(pacs_arena *ar, const char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0, nseg = 0, i = 0;
    out[0] = '\0';
    while (i < len) {
        const char *slash = memchr(p + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - p) : len;
        if (end == i) {
            if (!slash || end + 1 == len) {
                break; /* a trailing '/' */
            }
            return -1; /* "//" */
        }
        char *seg = pacs_params_url_decode(ar, p + i, end - i, 0);
        if (!seg || seg[0] == '.' || strpbrk(seg, "/\\") || ++nseg > MAX_SEGMENTS) {
            return -1;
        }
        for (const char *c = seg; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                return -1;
            }
        }
        size_t sl = strlen(seg);
        if (o + sl + 2 > cap) {
            return -1;
        }
        if (o) {
            out[o++] = '/';
        }
        memcpy(out + o, seg, sl);
        o += sl;
        out[o] = '\0';
        i = end + 1;
    }
    return 0;
}

static void send_text(pacs_http_req *r, unsigned status, const char *type, const char *text,
                      int compress)
{
    pacs_buf b;
    pacs_buf_init(&b, strlen(text) + 1);
    if (pacs_buf_puts(&b, text) != PACS_OK) {
        pacs_buf_free(&b);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_http_send_buf(r, status, type, &b, compress);
}

static void serve_index(const pacs_viewer *v, pacs_http_req *r)
{
    if (!serve_rel(v, r, "index.html")) {
        pacs_http_send_error(r, 500, "the viewer's index.html cannot be read");
    }
}

void pacs_viewer_serve(pacs_viewer *v, pacs_http_req *r, const char *path, size_t len,
                       const char *query)
{
    if (pacs_http_method_of(r) != PACS_HTTP_GET) {
        pacs_http_add_header(r, "Allow", "GET, HEAD");
        pacs_http_send_error(r, 405, "method not allowed here");
        return;
    }
    if (path_is(path, len, "/share")) {
        pacs_viewer__share_page(r, v->shares, path + 6, len - 6);
        return;
    }
    const size_t vl = strlen(PACS_VIEWER_PATH);
    path += vl;
    len -= vl;
    if (!pacs_viewer_installed(v)) {
        pacs_http_add_header(r, "Cache-Control", "no-store");
        send_text(r, 503, "text/html; charset=utf-8", v->missing_html, 0);
        return;
    }
    if (len == 0) {
        /* OHIF's usual study link, /viewer?StudyInstanceUIDs=..., is /viewer/viewer?... once
         * the app lives under /viewer. */
        int sane = query && strlen(query) < 4096;
        for (const char *c = query; sane && *c; c++) {
            sane = (unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f;
        }
        if (sane && strstr(query, "StudyInstanceUIDs=")) {
            char *loc = pacs_arena_printf(pacs_http_arena(r), PACS_VIEWER_PATH "/viewer?%s", query);
            if (loc) {
                pacs_http_add_header(r, "Location", loc);
                send_text(r, 302, "text/plain; charset=utf-8", "see the viewer\n", 0);
                return;
            }
        }
        serve_index(v, r);
        return;
    }
    char rel[MAX_REL];
    if (clean_path(pacs_http_arena(r), path + 1, len - 1, rel, sizeof rel) != 0) {
        pacs_http_send_error(r, 404, "not found");
        return;
    }
    if (strcmp(rel, "app-config.js") == 0) {
        pacs_http_add_header(r, "Cache-Control", "no-cache");
        pacs_http_add_header(r, "X-Content-Type-Options", "nosniff");
        send_text(r, 200, "text/javascript; charset=utf-8", v->app_config, 1);
        return;
    }
    if (rel[0] && serve_rel(v, r, rel)) {
        return;
    }
    /* A client-side route (/viewer/viewer, /viewer/segmentation, ...) gets the app; a missing
     * file (it has an extension) gets 404 rather than HTML under a script's name. */
    const char *last = strrchr(rel, '/');
    if (strchr(last ? last : rel, '.')) {
        pacs_http_send_error(r, 404, "not found");
        return;
    }
    serve_index(v, r);
}
