// SPDX-License-Identifier: MIT
/*
 * Unit tests of the configuration (config.c) and the shared command-line options (cli.c):
 * defaults, the key = value file syntax with its errors and line numbers, environment
 * variables, --set, remote AEs (ae.TITLE), DICOMweb destinations (web.NAME) and the routes
 * that name them, allowed calling AEs and the order sources apply in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pacs/base/cli.h"
#include "pacs/base/config.h"

static pacs_config *fresh(void)
{
    pacs_config *cfg = pacs_config_new();
    assert_non_null(cfg);
    return cfg;
}

static void test_defaults(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    assert_string_equal(pacs_config_str(cfg, "data"), "./data");
    assert_string_equal(pacs_config_str(cfg, "dimse.aet"), "PACS");
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 11112);
    assert_true(pacs_config_bool(cfg, "dimse.strict_called_aet"));
    assert_int_equal(pacs_config_ae_count(cfg), 0);
    assert_true(pacs_config_calling_aet_allowed(cfg, "ANYONE"));
    pacs_errinfo ei;
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_OK);
    pacs_config_free(cfg);
    pacs_config_free(NULL);
}

static void test_file_syntax(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    const char *text = "# a comment\n"
                       "\n"
                       "  data = /srv/pacs   \n"
                       "dimse.port=104 # trailing comment\n"
                       "dimse.strict_called_aet = no\n"
                       "dimse.allowed_aets = CT1, MR1 ,WS-RADIOLOGY\n"
                       "ae.WS-RADIOLOGY = 10.0.0.21:104\n"
                       "ae.CT1 = ct1.example:11112\n"
                       "ae.CT1 = ct1b.example:4242\n"   /* a later setting replaces */
                       "ae. CT1 = ct1b.example:4242\n"; /* blanks around a title do not count */
    pacs_errinfo ei;
    assert_int_equal(pacs_config_load_text(cfg, text, strlen(text), "t.conf", &ei), PACS_OK);
    assert_string_equal(pacs_config_str(cfg, "data"), "/srv/pacs");
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 104);
    assert_false(pacs_config_bool(cfg, "dimse.strict_called_aet"));
    assert_int_equal(pacs_config_ae_count(cfg), 2);
    const pacs_remote_ae *ae = pacs_config_ae_find(cfg, "WS-RADIOLOGY");
    assert_non_null(ae);
    assert_string_equal(ae->host, "10.0.0.21");
    assert_int_equal(ae->port, 104);
    ae = pacs_config_ae_find(cfg, " CT1  ");
    assert_non_null(ae);
    assert_string_equal(ae->host, "ct1b.example");
    assert_int_equal(ae->port, 4242);
    assert_string_equal(pacs_config_ae_at(cfg, 0)->aet, "WS-RADIOLOGY");
    assert_null(pacs_config_ae_at(cfg, 2));
    assert_null(pacs_config_ae_find(cfg, "NOBODY"));
    assert_true(pacs_config_calling_aet_allowed(cfg, "MR1"));
    assert_true(pacs_config_calling_aet_allowed(cfg, "CT1 "));
    assert_true(pacs_config_calling_aet_allowed(cfg, "WS-RADIOLOGY"));
    assert_false(pacs_config_calling_aet_allowed(cfg, "CT"));
    assert_false(pacs_config_calling_aet_allowed(cfg, "MR12"));
    pacs_config_free(cfg);
}

/* Each bad line is refused with the file name, its line number and what is wrong. */
static void test_file_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* must appear in the message */
    } cases[] = {
        {"dimse.port = 11112\nnot a setting\n", "x.conf:2: expected key = value"},
        {"\n\n\nbogus.key = 1\n", "x.conf:4: unknown setting 'bogus.key'"},
        {"dimse.port = eleven\n", "x.conf:1: dimse.port: 'eleven' is not a whole number"},
        {"dimse.port = 70000\n", "x.conf:1: dimse.port: 70000 is outside 0..65535"},
        {"dimse.port = -1\n", "is outside"},
        {"dimse.max_pdu = 100\n", "dimse.max_pdu: 100 is outside"},
        {"dimse.strict_called_aet = maybe\n", "is not true or false"},
        {"log.level = loud\n", "x.conf:1: log.level: 'loud' is not one of"},
        {"dimse.aet = THIS-TITLE-IS-TOO-LONG\n", "must be 1 to 16 characters"},
        {"dimse.aet =\n", "must be 1 to 16 characters"},
        {"ae.X = nohostport\n", "ae.X: 'nohostport' is not host:port"},
        {"ae.X = host:0\n", "ae.X: 'host:0' has no valid port"},
        {"ae.X = host:99999\n", "has no valid port"},
        {"ae.X = :104\n", "is not host:port"},
        {"ae.ABCDEFGHIJKLMNOPQ = h:1\n", "an AE title has 1 to 16 characters"},
        {"ae. = h:1\n", "an AE title has 1 to 16 characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_config *cfg = fresh();
        pacs_errinfo ei;
        pacs_err err =
            pacs_config_load_text(cfg, cases[i].text, strlen(cases[i].text), "x.conf", &ei);
        if (err == PACS_OK || !strstr(ei.msg, cases[i].want)) {
            fail_msg("case %zu: err=%d msg='%s', wanted '%s'", i, err, ei.msg, cases[i].want);
        }
        assert_int_equal(err, PACS_EINVAL);
        /* A refused value leaves the old one in place. */
        assert_int_equal(pacs_config_int(cfg, "dimse.port"), 11112);
        pacs_config_free(cfg);
    }
}

static void test_file_limits(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    char nul_line[] = "dimse.port = 1\0x\n";
    assert_int_equal(pacs_config_load_text(cfg, nul_line, sizeof nul_line - 1, "n", &ei),
                     PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "n:1: NUL byte"));
    size_t n = 5000;
    char *longline = malloc(n + 1);
    assert_non_null(longline);
    memset(longline, 'a', n);
    longline[n] = '\0';
    assert_int_equal(pacs_config_load_text(cfg, longline, n, "l", &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "l:1: line too long"));
    free(longline);
    /* No final newline is fine; CRLF files are not mangled into bad values for numbers. */
    const char *last = "dimse.port = 4242";
    assert_int_equal(pacs_config_load_text(cfg, last, strlen(last), "e", &ei), PACS_OK);
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 4242);
    const char *crlf = "dimse.port = 4243\r\n";
    assert_int_equal(pacs_config_load_text(cfg, crlf, strlen(crlf), "c", &ei), PACS_OK);
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 4243);
    assert_int_equal(pacs_config_load_file(cfg, "/nonexistent/pacsd.conf", &ei), PACS_ENOTFOUND);
    assert_non_null(strstr(ei.msg, "/nonexistent/pacsd.conf"));
    pacs_config_free(cfg);
}

static void test_set_pair(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    assert_int_equal(pacs_config_set_pair(cfg, " dimse.port = 0 ", &ei), PACS_OK);
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 0);
    assert_int_equal(pacs_config_set_pair(cfg, "ae.MOVE-DEST=127.0.0.1:4006", &ei), PACS_OK);
    assert_int_equal(pacs_config_ae_find(cfg, "MOVE-DEST")->port, 4006);
    assert_int_equal(pacs_config_set_pair(cfg, "no-equals-sign", &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "is not key=value"));
    assert_int_equal(pacs_config_set_pair(cfg, "dimse.nope=1", &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "unknown setting 'dimse.nope'"));
    /* The value may itself hold '='. */
    assert_int_equal(pacs_config_set_pair(cfg, "data=/tmp/a=b", &ei), PACS_OK);
    assert_string_equal(pacs_config_str(cfg, "data"), "/tmp/a=b");
    assert_int_equal(pacs_config_set_pair(cfg, "data=", &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "data"));
    assert_int_equal(pacs_config_set(cfg, "data", "/d", &ei), PACS_OK);
    assert_int_equal(pacs_config_set(cfg, "http.prefix", "no-slash", &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "http.prefix"));
    pacs_config_free(cfg);
}

static void test_web_dests(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    assert_int_equal(pacs_config_set(cfg, "web.CENTRAL",
                                     "https://c.example:8443/dicomweb/ key=@/etc/k ca=/etc/ca.pem "
                                     "accept=jpegls,htj2k,explicit,1.2.840.10008.1.2.5 batch=4",
                                     &ei),
                     PACS_OK);
    const pacs_web_dest *w = pacs_config_web_find(cfg, "CENTRAL");
    assert_non_null(w);
    assert_string_equal(w->url, "https://c.example:8443/dicomweb");
    assert_string_equal(w->key_file, "/etc/k");
    assert_string_equal(w->ca, "/etc/ca.pem");
    assert_string_equal(w->accept, "1.2.840.10008.1.2.4.80,1.2.840.10008.1.2.4.201,"
                                   "1.2.840.10008.1.2.1,1.2.840.10008.1.2.5");
    assert_int_equal(w->batch, 4);
    assert_int_equal(w->batch_bytes, 32L << 20);
    /* A later setting replaces the earlier one. */
    assert_int_equal(pacs_config_set(cfg, "web.CENTRAL", "http://c:80/dw batch_mb=2", &ei),
                     PACS_OK);
    assert_int_equal(pacs_config_web_count(cfg), 1);
    assert_int_equal(pacs_config_web_at(cfg, 0)->batch_bytes, 2L << 20);
    assert_string_equal(pacs_config_web_at(cfg, 0)->accept, "");
    /* The key only from a file; bad URLs, options, syntaxes and names. */
    static const struct {
        const char *key, *value, *msg;
    } bad[] = {
        {"web.X", "https://x key=secret", "key=@"},
        {"web.X", "ftp://x", "http(s)://"},
        {"web.X", "https://x accept=jpeg2", "accept: 'jpeg2'"},
        {"web.X", "https://x batch=0", "batch must be 1 to"},
        {"web.X", "https://x colour=red", "'colour=red' is not an option"},
        {"web.ABCDEFGHIJKLMNOPQ", "https://x", "1 to 16 characters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_config_set(cfg, bad[i].key, bad[i].value, &ei), PACS_EINVAL);
        assert_non_null(strstr(ei.msg, bad[i].msg));
    }
    /* Routes may name it; a name that is both an AE and a web destination is refused. */
    assert_int_equal(pacs_config_set(cfg, "route.tele", "CENTRAL modality=CT", &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_OK);
    assert_int_equal(pacs_config_set(cfg, "route.nowhere", "NOWHERE", &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "not a known AE, DICOMweb or EHR server"));
    pacs_config_free(cfg);
    cfg = fresh();
    assert_int_equal(pacs_config_set(cfg, "web.TWICE", "https://x", &ei), PACS_OK);
    assert_int_equal(pacs_config_set(cfg, "ae.TWICE", "127.0.0.1:104", &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "also a known AE"));
    pacs_config_free(cfg);
}

/* study_from=key:NAME,...: credentials named as the principal's name; other kinds refused. */
static void test_route_study_from(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    assert_int_equal(pacs_config_set(cfg, "web.DISTRICT_A", "https://a/dw", &ei), PACS_OK);
    assert_int_equal(
        pacs_config_set(cfg, "route.back-a",
                        "DISTRICT_A modality=SR study_from=key:district-a,user:lan,jwt:x", &ei),
        PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_OK);
    assert_int_equal(pacs_config_route_count(cfg), 1);
    const pacs_config_route *r = pacs_config_route_at(cfg, 0);
    assert_string_equal(r->modality, "SR");
    assert_string_equal(r->study_from, "key:district-a,user:lan,jwt:x");
    static const struct {
        const char *value, *msg;
    } bad[] = {
        {"DISTRICT_A study_from=district-a", "'district-a' is not key:NAME"},
        {"DISTRICT_A study_from=key:", "'key:' is not key:NAME"},
        {"DISTRICT_A study_from=share:abc", "'share:abc' is not key:NAME"},
        {"DISTRICT_A study_from=key:a,,key:b", "bad study_from list"},
        {"DISTRICT_A study_from=", "empty study_from list"},
        {"DISTRICT_A study_form=key:a", "(calling, modality, sop_class, study_from)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_config_set(cfg, "route.bad", bad[i].value, &ei), PACS_EINVAL);
        if (!strstr(ei.msg, bad[i].msg)) {
            fail_msg("%s: %s", bad[i].value, ei.msg);
        }
    }
    pacs_config_free(cfg);
}

/* ehr.NAME destinations: parsed as web. ones, kind EHR; options they cannot take refused. */
static void test_ehr_dests(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    assert_int_equal(pacs_config_set(cfg, "web.CENTRAL", "https://c/dicomweb", &ei), PACS_OK);
    assert_int_equal(
        pacs_config_set(cfg, "ehr.EHR", "https://ehr.example/fhir/ key=@/etc/k ca=/etc/ca", &ei),
        PACS_OK);
    const pacs_web_dest *w = pacs_config_web_find(cfg, "EHR");
    assert_non_null(w);
    assert_int_equal(w->kind, PACS_DEST_EHR);
    assert_string_equal(w->url, "https://ehr.example/fhir");
    assert_string_equal(w->key_file, "/etc/k");
    assert_string_equal(w->ca, "/etc/ca");
    assert_int_equal(pacs_config_web_find(cfg, "CENTRAL")->kind, PACS_DEST_STOW);
    static const struct {
        const char *value, *msg;
    } bad[] = {
        {"https://x accept=jpegls", "ehr.X: 'accept=jpegls' is not an option"},
        {"https://x batch=2", "ehr.X: 'batch=2' is not an option"},
        {"https://x key=secret", "ehr.X: the key is read from a file"},
        {"ftp://x", "ehr.X: 'ftp://x' must start with an http(s):// URL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_config_set(cfg, "ehr.X", bad[i].value, &ei), PACS_EINVAL);
        assert_non_null(strstr(ei.msg, bad[i].msg));
    }
    /* Routes name it; the ImagingStudy's Endpoint needs http.public_url. */
    assert_int_equal(pacs_config_set(cfg, "route.ehr", "EHR", &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "ehr.EHR needs http.public_url"));
    assert_int_equal(pacs_config_set(cfg, "http.public_url", "https://pacs/dicomweb", &ei),
                     PACS_OK);
    assert_int_equal(pacs_config_finish(cfg, &ei), PACS_OK);
    /* A name is one destination: ehr.CENTRAL replaces web.CENTRAL. */
    assert_int_equal(pacs_config_set(cfg, "ehr.CENTRAL", "https://c/fhir", &ei), PACS_OK);
    assert_int_equal(pacs_config_web_count(cfg), 2);
    assert_int_equal(pacs_config_web_find(cfg, "CENTRAL")->kind, PACS_DEST_EHR);
    pacs_config_free(cfg);
}

static void test_env(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    setenv("PACS_DIMSE_PORT", "2104", 1);
    setenv("PACS_DIMSE_AET", "ENVPACS", 1);
    assert_int_equal(pacs_config_load_env(cfg, &ei), PACS_OK);
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 2104);
    assert_string_equal(pacs_config_str(cfg, "dimse.aet"), "ENVPACS");
    setenv("PACS_DIMSE_PORT", "port", 1);
    assert_int_equal(pacs_config_load_env(cfg, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "environment PACS_DIMSE_PORT"));
    unsetenv("PACS_DIMSE_PORT");
    unsetenv("PACS_DIMSE_AET");
    pacs_config_free(cfg);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/pacs-test-config.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* Order: file (wherever --config stands), then environment, then --data/--set as given. */
static void test_cli_order(void **state)
{
    (void)state;
    char *file = write_temp("dimse.port = 1000\ndimse.aet = FILEAET\ndata = /from/file\n"
                            "dimse.max_associations = 7\n");
    setenv("PACS_DIMSE_AET", "ENVAET", 1);
    setenv("PACS_DIMSE_MAX_ASSOCIATIONS", "9", 1);
    char *argv[] = {"prog",     "--set",    "dimse.port=2000", "import",
                    "--data",   "/cmdline", "--set",           "dimse.port=3000",
                    "--config", file,       "--ready-file",    "R",
                    "x",        "--",       "--set",           "y",
                    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    char *rest[32];
    int n_rest = 0;
    pacs_errinfo ei;
    pacs_config *cfg = fresh();
    const char *const valued[] = {"--ready-file", NULL};
    assert_int_equal(pacs_cli_load_config(cfg, argc, argv, valued, rest, &n_rest, &ei), PACS_OK);
    assert_int_equal(pacs_config_int(cfg, "dimse.port"), 3000);
    assert_string_equal(pacs_config_str(cfg, "dimse.aet"), "ENVAET");
    assert_int_equal(pacs_config_int(cfg, "dimse.max_associations"), 9);
    assert_string_equal(pacs_config_str(cfg, "data"), "/cmdline");
    /* What is not a shared option comes back in order, "--" and what follows untouched. */
    assert_int_equal(n_rest, 7);
    assert_string_equal(rest[0], "import");
    assert_string_equal(rest[1], "--ready-file");
    assert_string_equal(rest[2], "R");
    assert_string_equal(rest[3], "x");
    assert_string_equal(rest[4], "--");
    assert_string_equal(rest[5], "--set");
    assert_string_equal(rest[6], "y");
    pacs_config_free(cfg);
    unsetenv("PACS_DIMSE_AET");
    unsetenv("PACS_DIMSE_MAX_ASSOCIATIONS");
    unlink(file);
    free(file);
}

static void test_cli_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[4];
        const char *want;
    } cases[] = {
        {{"--data", NULL}, "--data needs a value"},
        {{"--set", NULL}, "--set needs a value"},
        {{"--config", NULL}, "--config needs a value"},
        {{"--config", "/nonexistent.conf", NULL}, "/nonexistent.conf"},
        {{"--set", "dimse.port=x", NULL}, "dimse.port: 'x' is not a whole number"},
        {{"--set", "nokey", NULL}, "is not key=value"},
        {{"--data", "", NULL}, "data folder must be set"},
        {{"--ready-file", NULL}, "--ready-file needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[8] = {"prog"};
        int argc = 1;
        for (int j = 0; cases[i].args[j]; j++) {
            argv[argc++] = (char *)cases[i].args[j];
        }
        char *rest[8];
        int n_rest = 0;
        pacs_errinfo ei;
        pacs_config *cfg = fresh();
        const char *const valued[] = {"--ready-file", NULL};
        pacs_err err = pacs_cli_load_config(cfg, argc, argv, valued, rest, &n_rest, &ei);
        if (err == PACS_OK || !strstr(ei.msg, cases[i].want)) {
            fail_msg("case %zu: err=%d msg='%s', wanted '%s'", i, err, ei.msg, cases[i].want);
        }
        pacs_config_free(cfg);
    }
}

static void test_file_error_through_cli(void **state)
{
    (void)state;
    char *file = write_temp("dimse.port = 104\n\n# fine so far\ndimse.port = 1O4\n");
    char *argv[] = {"prog", "--config", file, NULL};
    char *rest[4];
    int n_rest = 0;
    pacs_errinfo ei;
    pacs_config *cfg = fresh();
    assert_int_equal(pacs_cli_load_config(cfg, 3, argv, NULL, rest, &n_rest, &ei), PACS_EINVAL);
    char want[4200];
    snprintf(want, sizeof want, "%s:4: dimse.port: '1O4' is not a whole number", file);
    assert_string_equal(ei.msg, want);
    pacs_config_free(cfg);
    unlink(file);
    free(file);
}

/* storage.free_min and _warn: a percentage or a size with a 1024-based unit; junk refused. */
static void test_amounts(void **state)
{
    (void)state;
    pacs_config *cfg = fresh();
    pacs_errinfo ei;
    pacs_amount a = pacs_config_amount(cfg, "storage.free_min");
    assert_true(a.percent);
    assert_true(a.share == 2.0);
    static const struct {
        const char *text;
        int percent;
        double share;
        uint64_t bytes;
    } ok[] = {
        {"5%", 1, 5, 0},
        {"12.5%", 1, 12.5, 0},
        {"0", 0, 0, 0},
        {"4096", 0, 0, 4096},
        {"500MB", 0, 0, 500u << 20},
        {"1.5G", 0, 0, 3ull << 29},
        {"2TiB", 0, 0, 2ull << 40},
        {"64k", 0, 0, 64u << 10},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(pacs_config_set(cfg, "storage.free_min", ok[i].text, &ei), PACS_OK);
        a = pacs_config_amount(cfg, "storage.free_min");
        assert_int_equal(a.percent, ok[i].percent);
        assert_true(a.share == ok[i].share);
        assert_true(a.bytes == ok[i].bytes);
    }
    static const char *const bad[] = {"",     "%",     "101%", "-1%",  "-5",  "5 %",
                                      "10XB", "10MBs", "MB",   "1e30", "five"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_config_set(cfg, "storage.free_warn", bad[i], &ei), PACS_EINVAL);
        assert_non_null(strstr(ei.msg, "storage.free_warn"));
    }
    assert_true(pacs_config_amount(cfg, "storage.free_warn").share == 10.0);
    pacs_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amounts),     cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_syntax), cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_limits), cmocka_unit_test(test_set_pair),
        cmocka_unit_test(test_env),         cmocka_unit_test(test_cli_order),
        cmocka_unit_test(test_cli_errors),  cmocka_unit_test(test_file_error_through_cli),
        cmocka_unit_test(test_web_dests),   cmocka_unit_test(test_route_study_from),
        cmocka_unit_test(test_ehr_dests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
