// SPDX-License-Identifier: MIT
/*
 * pacs-bench-his: the hospital side of the benchmark (issue 16). Starts pacsd on a fresh data
 * folder, registers patients and places orders over HL7 v2 (MLLP, one connection, each message
 * acknowledged before the next, as a HIS sends them), and times Modality Worklist C-FINDs on
 * one kept-open association over the scheduled steps that gives. Prints a Markdown table:
 * messages/s, and per query the median, min and max latency with the items found, checked
 * against the count the orders' model says (a fast wrong answer is reported, not hidden).
 *
 * usage: pacs-bench-his --pacsd PATH [--work DIR] [--orders N] [--reps R] [--set KEY=VALUE]...
 *
 * The model: N orders for N/2 patients (varied Vietnamese names, a social-insurance number
 * each), on 8 stations (CT1-CT4, MR1, DX1-DX3), over 30 days from 2026-01-05, 07:00 to 17:00.
 * No peer runs beside it: Orthanc has no HL7 v2 listener and no MPPS, and its worklist is a
 * sample plugin reading a folder of files. Single-threaded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pacs/dicom/dcm.h"
#include "tools/bench/bench.h"

#define DAYS 30
#define STATIONS 8

static const char *const station_aet[STATIONS] = {"CT1", "CT2", "CT3", "CT4",
                                                  "MR1", "DX1", "DX2", "DX3"};
static const char *const station_modality[STATIONS] = {"CT", "CT", "CT", "CT",
                                                       "MR", "DX", "DX", "DX"};
static const char *const family[] = {"Nguyễn", "Trần", "Lê",    "Phạm", "Hoàng", "Huỳnh",
                                     "Phan",   "Vũ",   "Võ",    "Đặng", "Bùi",   "Đỗ",
                                     "Hồ",     "Ngô",  "Dương", "Lý"};
static const char *const middle[] = {"Văn", "Thị", "Hữu", "Minh", "Ngọc", "Đức", "Thanh", "Quốc"};
static const char *const given[] = {"An",   "Bình", "Châu", "Dũng", "Hà",    "Hải",  "Hương",
                                    "Hùng", "Lan",  "Linh", "Long", "Mai",   "Nam",  "Phúc",
                                    "Quân", "Sơn",  "Tâm",  "Thảo", "Trang", "Tuấn", "Yến"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The model of order `i`. */
static unsigned order_patient(unsigned i)
{
    return i / 2;
}
static unsigned order_station(unsigned i)
{
    return (i * 7u) % STATIONS;
}
static unsigned order_day(unsigned i)
{
    return (i / STATIONS) % DAYS;
}
static void day_text(unsigned day, char out[9])
{
    /* 2026-01-05 plus `day` (< 30): January and early February. */
    unsigned d = 5 + day;
    snprintf(out, 9, "2026%02u%02u", d <= 31 ? 1u : 2u, d <= 31 ? d : d - 31);
}
static void patient_name(unsigned p, char *out, size_t cap)
{
    snprintf(out, cap, "%s^%s %s", family[p % COUNT(family)],
             middle[(p / COUNT(family)) % COUNT(middle)],
             given[(p / (COUNT(family) * COUNT(middle))) % COUNT(given)]);
}

/* ---- HL7 over MLLP ---- */

static int mllp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends one framed message and reads its ACK: 1 when it is AA. */
static int mllp_send(int fd, const char *msg)
{
    char frame[8192];
    int n = snprintf(frame, sizeof frame, "\x0b%s\x1c\r", msg);
    if (n <= 0 || (size_t)n >= sizeof frame || write(fd, frame, (size_t)n) != n) {
        return 0;
    }
    char ack[4096];
    size_t got = 0;
    while (got < sizeof ack - 1) {
        ssize_t r = read(fd, ack + got, sizeof ack - 1 - got);
        if (r <= 0) {
            return 0;
        }
        got += (size_t)r;
        ack[got] = '\0';
        if (strstr(ack, "\x1c\r")) {
            return strstr(ack, "MSA|AA|") != NULL;
        }
    }
    return 0;
}

/* The ADT^A01 of patient `p` and the ORM^O01 of order `i`. */
static void adt_text(unsigned p, char *out, size_t cap)
{
    char name[128];
    patient_name(p, name, sizeof name);
    snprintf(out, cap,
             "MSH|^~\\&|HIS|BV|PACS|BV|20260105080000||ADT^A01^ADT_A01|A%u|P|2.5.1|||||VN|UNICODE "
             "UTF-8\rEVN|A01\rPID|1||BN%07u^^^BVTINH^MR~DN40101%08u^^^BHXH^SS||%s||19%02u0%u1%u|%c"
             "\rPV1|1|O",
             p, p, p, name, 40 + p % 60, 1 + p % 9, p % 9, p % 2 ? 'F' : 'M');
}

static void orm_text(unsigned i, char *out, size_t cap)
{
    unsigned p = order_patient(i), st = order_station(i);
    char day[9];
    day_text(order_day(i), day);
    snprintf(
        out, cap,
        "MSH|^~\\&|HIS|BV|PACS|BV|20260105080000||ORM^O01^ORM_O01|O%u|P|2.5.1|||||VN|UNICODE "
        "UTF-8\rPID|1||DN40101%08u^^^BHXH^SS\rORC|NW|PL%u|||SC||^^^%s%02u%02u00^^R\rOBR|1|PL%u||"
        "%s01^Chụp %s^L||||||||||||||ACC%u|RP%u|SPS%u|%s|||%s",
        i, p, i, day, 7 + (i / STATIONS / DAYS) % 10, (i * 13) % 60, i, station_modality[st],
        station_modality[st], i, i, i, station_aet[st], station_modality[st]);
}

/* ---- the worklist queries ---- */

typedef struct wl_query {
    const char *label;
    json_t *id; /* the identifier as DICOM JSON */
    unsigned expected;
} wl_query;

static json_t *text_attr(const char *vr, const char *v)
{
    return v ? json_pack("{s:s,s:[s]}", "vr", vr, "Value", v) : json_pack("{s:s}", "vr", vr);
}

/* A worklist identifier: patient keys, accession, and one SPS item with station, modality and
 * start date; NULL leaves a key universal. */
static json_t *identifier(const char *patient_id, const char *name, const char *accession,
                          const char *aet, const char *modality, const char *date)
{
    json_t *sps = json_object();
    json_object_set_new(sps, "00400001", text_attr("AE", aet));
    json_object_set_new(sps, "00080060", text_attr("CS", modality));
    json_object_set_new(sps, "00400002", text_attr("DA", date));
    json_object_set_new(sps, "00400003", text_attr("TM", NULL));
    json_object_set_new(sps, "00400009", text_attr("SH", NULL));
    json_object_set_new(sps, "00400007", text_attr("LO", NULL));
    json_t *q = json_object();
    json_object_set_new(q, "00080005", text_attr("CS", "ISO_IR 192"));
    json_object_set_new(q, "00100010",
                        name ? json_pack("{s:s,s:[{s:s}]}", "vr", "PN", "Value", "Alphabetic", name)
                             : json_pack("{s:s}", "vr", "PN"));
    json_object_set_new(q, "00100020", text_attr("LO", patient_id));
    json_object_set_new(q, "00100030", text_attr("DA", NULL));
    json_object_set_new(q, "00100040", text_attr("CS", NULL));
    json_object_set_new(q, "00080050", text_attr("SH", accession));
    json_object_set_new(q, "0020000D", text_attr("UI", NULL));
    json_object_set_new(q, "00401001", text_attr("SH", NULL));
    json_object_set_new(q, "00400100", json_pack("{s:s,s:[o]}", "vr", "SQ", "Value", sps));
    return q;
}

static void usage(void)
{
    fprintf(stderr, "usage: pacs-bench-his --pacsd PATH [--work DIR] [--orders N] [--reps R] "
                    "[--set KEY=VALUE]...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *pacsd = NULL, *work = "bench-his";
    unsigned n_orders = 10000, reps = 20;
    char *sets[16];
    size_t n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            usage();
        }
        if (strcmp(argv[i], "--pacsd") == 0) {
            pacsd = argv[++i];
        } else if (strcmp(argv[i], "--work") == 0) {
            work = argv[++i];
        } else if (strcmp(argv[i], "--orders") == 0) {
            n_orders = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--reps") == 0) {
            reps = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--set") == 0 && n_sets < 16) {
            sets[n_sets++] = argv[++i];
        } else {
            usage();
        }
    }
    if (!pacsd || n_orders < 2 || reps < 1) {
        usage();
    }
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench-his: %s\n", ei.msg);
        return 1;
    }
    mkdir(work, 0755);
    char data[1024], ready[1024], log[1024];
    snprintf(data, sizeof data, "%s/data", work);
    snprintf(ready, sizeof ready, "%s/ready", work);
    snprintf(log, sizeof log, "%s/pacsd.log", work);
    bench_rmtree(data);
    unlink(ready);
    char *args[48] = {(char *)pacsd,  "--data", data,          "--ready-file", ready,       "--set",
                      "dimse.port=0", "--set",  "http.port=0", "--set",        "hl7.port=0"};
    size_t na = 11;
    for (size_t i = 0; i < n_sets; i++) {
        args[na++] = "--set";
        args[na++] = sets[i];
    }
    args[na] = NULL;
    pid_t pid = bench_spawn(args, log);
    int dimse_port = 0, hl7_port = 0;
    for (int t = 0; t < 600 && (dimse_port == 0 || hl7_port == 0); t++) {
        usleep(100000);
        FILE *f = fopen(ready, "r");
        char line[128];
        while (f && fgets(line, sizeof line, f)) {
            sscanf(line, "DIMSE_PORT=%d", &dimse_port);
            sscanf(line, "HL7_PORT=%d", &hl7_port);
        }
        if (f) {
            fclose(f);
        }
    }
    if (pid < 0 || !dimse_port || !hl7_port) {
        fprintf(stderr, "pacs-bench-his: pacsd did not start (see %s)\n", log);
        bench_stop(pid, 5);
        return 1;
    }

    /* HL7: every patient, then every order, one connection. */
    int fd = mllp_connect(hl7_port);
    unsigned n_patients = order_patient(n_orders - 1) + 1, refused = 0;
    char msg[4096];
    double t0 = bench_now();
    for (unsigned p = 0; fd >= 0 && p < n_patients; p++) {
        adt_text(p, msg, sizeof msg);
        refused += !mllp_send(fd, msg);
    }
    double t1 = bench_now();
    for (unsigned i = 0; fd >= 0 && i < n_orders; i++) {
        orm_text(i, msg, sizeof msg);
        refused += !mllp_send(fd, msg);
    }
    double t2 = bench_now();
    if (fd < 0 || refused) {
        fprintf(stderr, "pacs-bench-his: %u HL7 messages not acknowledged AA\n", refused);
        bench_stop(pid, 5);
        return 1;
    }
    close(fd);

    /* The worklist queries and their expected counts from the model. */
    char day[9], pid_text[32], acc[32], name_prefix[64];
    unsigned probe = n_orders / 3, probe_day = order_day(probe), probe_st = order_station(probe);
    day_text(probe_day, day);
    snprintf(pid_text, sizeof pid_text, "DN40101%08u", order_patient(probe));
    snprintf(acc, sizeof acc, "ACC%u", probe);
    snprintf(name_prefix, sizeof name_prefix, "%s^%s*", family[0], middle[1]);
    wl_query q[] = {
        {"station's day (ScheduledStationAETitle, StartDate)",
         identifier(NULL, NULL, NULL, station_aet[probe_st], NULL, day), 0},
        {"modality and a 7-day range", NULL, 0},
        {"PatientID (social-insurance number)", identifier(pid_text, NULL, NULL, NULL, NULL, NULL),
         0},
        {"AccessionNumber", identifier(NULL, NULL, acc, NULL, NULL, NULL), 0},
        {"PatientName prefix (Nguyễn^Thị*) alone",
         identifier(NULL, name_prefix, NULL, NULL, NULL, NULL), 0},
    };
    char d0[9], d1[9], range[20];
    day_text(probe_day, d0);
    day_text(probe_day + 6 < DAYS ? probe_day + 6 : DAYS - 1, d1);
    snprintf(range, sizeof range, "%s-%s", d0, d1);
    q[1].id = identifier(NULL, NULL, NULL, NULL, "MR", range);
    for (unsigned i = 0; i < n_orders; i++) {
        unsigned st = order_station(i), dy = order_day(i), p = order_patient(i);
        char nm[128];
        patient_name(p, nm, sizeof nm);
        q[0].expected += st == probe_st && dy == probe_day;
        q[1].expected += strcmp(station_modality[st], "MR") == 0 && dy >= probe_day &&
                         dy <= (probe_day + 6 < DAYS ? probe_day + 6 : DAYS - 1);
        q[2].expected += p == order_patient(probe);
        q[3].expected += i == probe;
        q[4].expected += strncmp(nm, name_prefix, strlen(name_prefix) - 1) == 0;
    }

    bench_dimse *d = NULL;
    if (bench_dimse_open("PACS", dimse_port, &d, &ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench-his: association: %s\n", ei.msg);
        bench_stop(pid, 5);
        return 1;
    }
    printf("## pacs-bench-his: %u orders for %u patients over %d days on %d stations\n\n", n_orders,
           n_patients, DAYS, STATIONS);
    printf("| figure | value |\n|---|---|\n");
    printf("| HL7 ADT^A01 (register a patient), one connection | %.0f messages/s |\n",
           n_patients / (t1 - t0));
    printf("| HL7 ORM^O01 (place an order), one connection | %.0f messages/s |\n",
           n_orders / (t2 - t1));
    int bad = 0;
    for (size_t k = 0; k < COUNT(q); k++) {
        pacs_ds *ds = NULL;
        bench_samples s = {0};
        unsigned matches = 0;
        int ok = pacs_ds_from_json(q[k].id, &ds, &ei) == PACS_OK;
        for (unsigned r = 0; ok && r < reps + 1; r++) {
            double a = bench_now();
            ok = bench_dimse_find_worklist(d, ds, &matches, &ei) == PACS_OK;
            if (ok && r > 0) {
                bench_samples_add(&s, (bench_now() - a) * 1e3);
            }
        }
        double med = 0, lo = 0, hi = 0;
        if (ok && bench_samples_stats(&s, &med, &lo, &hi)) {
            printf("| MWL C-FIND %s: %u items | %.2f ms (%.2f-%.2f)%s |\n", q[k].label, matches,
                   med, lo, hi, matches == q[k].expected ? "" : " WRONG COUNT");
            if (matches != q[k].expected) {
                fprintf(stderr, "pacs-bench-his: %s: %u items, the model says %u\n", q[k].label,
                        matches, q[k].expected);
                bad = 1;
            }
        } else {
            printf("| MWL C-FIND %s | failed: %s |\n", q[k].label, ei.msg);
            bad = 1;
        }
        bench_samples_free(&s);
        pacs_ds_free(ds);
        json_decref(q[k].id);
    }
    bench_dimse_close(d);
    bench_stop(pid, 10);
    return bad;
}
