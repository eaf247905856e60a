// SPDX-License-Identifier: MIT
/*
 * FHIR R4 resources checked and read (resource.h): tables of the elements R4 defines for the
 * resources and data types read, the value sets and formats checked, and the mapping into the
 * archive's patients and orders. Load: one resource per FHIR write, a few microseconds.
 * Thread-safe: no shared state.
 */
#include "fhir/resource.h"
#include "fhir/resource_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const pacs_fhir__elem patient_elems[] = {{"resourceType", STR},
                                                DOMAIN,
                                                {"identifier", ARR_OBJ},
                                                {"active", BOOL},
                                                {"name", ARR_OBJ},
                                                {"telecom", ARR_OBJ},
                                                {"gender", STR},
                                                {"birthDate", STR},
                                                {"deceasedBoolean", BOOL},
                                                {"deceasedDateTime", STR},
                                                {"address", ARR_OBJ},
                                                {"maritalStatus", OBJ},
                                                {"multipleBirthBoolean", BOOL},
                                                {"multipleBirthInteger", NUM},
                                                {"photo", ARR_OBJ},
                                                {"contact", ARR_OBJ},
                                                {"communication", ARR_OBJ},
                                                {"generalPractitioner", ARR_OBJ},
                                                {"managingOrganization", OBJ},
                                                {"link", ARR_OBJ},
                                                {NULL, 0}};

const pacs_fhir__elem pacs_fhir__identifier_elems[] = {
    BASE,           {"use", STR},    {"type", OBJ},     {"system", STR},
    {"value", STR}, {"period", OBJ}, {"assigner", OBJ}, {NULL, 0}};
const pacs_fhir__elem pacs_fhir__name_elems[] = {BASE,
                                                 {"use", STR},
                                                 {"text", STR},
                                                 {"family", STR},
                                                 {"given", ARR_STR},
                                                 {"prefix", ARR_STR},
                                                 {"suffix", ARR_STR},
                                                 {"period", OBJ},
                                                 {NULL, 0}};
const pacs_fhir__elem pacs_fhir__concept_elems[] = {
    BASE, {"coding", ARR_OBJ}, {"text", STR}, {NULL, 0}};
const pacs_fhir__elem pacs_fhir__coding_elems[] = {
    BASE,          {"system", STR},  {"version", STR},
    {"code", STR}, {"display", STR}, {"userSelected", BOOL},
    {NULL, 0}};
const pacs_fhir__elem pacs_fhir__reference_elems[] = {
    BASE, {"reference", STR}, {"type", STR}, {"identifier", OBJ}, {"display", STR}, {NULL, 0}};
const pacs_fhir__elem pacs_fhir__period_elems[] = {BASE, {"start", STR}, {"end", STR}, {NULL, 0}};

static int shape_ok(const json_t *v, int shape)
{
    switch (shape) {
    case STR:
        return json_is_string(v) && json_string_length(v) > 0;
    case BOOL:
        return json_is_boolean(v);
    case NUM:
        return json_is_number(v);
    case OBJ:
        return json_is_object(v) && json_object_size(v) > 0;
    case ARR_STR:
    case ARR_OBJ: {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            return 0;
        }
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (shape == ARR_STR ? !json_is_string(x) || json_string_length(x) == 0
                                 : !json_is_object(x) || json_object_size(x) == 0) {
                return 0;
            }
        }
        return 1;
    }
    default:
        return 1;
    }
}

static const pacs_fhir__elem *find_elem(const pacs_fhir__elem *table, const char *name)
{
    for (const pacs_fhir__elem *e = table; e->name; e++) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Every member of `obj` is an element of `table` in its JSON shape; "_x" (a primitive's id and
 * extensions) only beside a primitive element x. `path` names `obj` in messages. */
pacs_err pacs_fhir__check_shape(const json_t *obj, const pacs_fhir__elem *table, const char *path,
                                pacs_errinfo *ei)
{
    if (!json_is_object(obj)) {
        return pacs_errf(ei, PACS_EBADDATA, "%s: must be a JSON object", path);
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const pacs_fhir__elem *e = find_elem(table, key[0] == '_' ? key + 1 : key);
        if (!e || (key[0] == '_' && (e->shape == OBJ || e->shape == ARR_OBJ))) {
            return pacs_errf(ei, PACS_EBADDATA, "%s.%s: not an element of FHIR R4", path, key);
        }
        if (key[0] == '_') {
            if (!json_is_object(v) && !json_is_array(v)) {
                return pacs_errf(ei, PACS_EBADDATA, "%s.%s: must be an object or array", path, key);
            }
            continue;
        }
        if (!shape_ok(v, e->shape)) {
            static const char *const what[] = {"a value",
                                               "a non-empty string",
                                               "true or false",
                                               "a number",
                                               "a non-empty object",
                                               "a non-empty array of strings",
                                               "a non-empty array of objects"};
            return pacs_errf(ei, PACS_EBADDATA, "%s.%s: must be %s", path, key, what[e->shape]);
        }
        if (strcmp(key, "modifierExtension") == 0) {
            return pacs_errf(ei, PACS_EUNSUPPORTED,
                             "%s.modifierExtension: pacsd understands no modifier extension", path);
        }
    }
    return PACS_OK;
}

/* Checks the member `name` of `obj` against a data type's table, when present. */
pacs_err pacs_fhir__check_member(const json_t *obj, const char *name, const pacs_fhir__elem *table,
                                 const char *path, pacs_errinfo *ei)
{
    const json_t *v = json_object_get(obj, name);
    char sub[128];
    if (!v) {
        return PACS_OK;
    }
    if (!json_is_array(v)) {
        snprintf(sub, sizeof sub, "%s.%s", path, name);
        return pacs_fhir__check_shape(v, table, sub, ei);
    }
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x)
    {
        snprintf(sub, sizeof sub, "%s.%s[%zu]", path, name, i);
        pacs_err err = pacs_fhir__check_shape(x, table, sub, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    return PACS_OK;
}

/* A CodeableConcept and its codings. */
pacs_err pacs_fhir__check_concept(const json_t *obj, const char *name, const char *path,
                                  pacs_errinfo *ei)
{
    pacs_err err = pacs_fhir__check_member(obj, name, pacs_fhir__concept_elems, path, ei);
    const json_t *v = json_object_get(obj, name);
    if (err != PACS_OK || !v) {
        return err;
    }
    size_t i;
    const json_t *x;
    char sub[128];
    json_array_foreach(json_is_array(v) ? v : NULL, i, x)
    {
        snprintf(sub, sizeof sub, "%s.%s[%zu]", path, name, i);
        err = pacs_fhir__check_member(x, "coding", pacs_fhir__coding_elems, sub, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    if (json_is_object(v)) {
        snprintf(sub, sizeof sub, "%s.%s", path, name);
        err = pacs_fhir__check_member(v, "coding", pacs_fhir__coding_elems, sub, ei);
    }
    return err;
}

const char *pacs_fhir__str(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int pacs_fhir__one_of(const char *v, const char *const *set)
{
    for (; *set; set++) {
        if (strcmp(v, *set) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Copies `v` into `dst` (cap bytes); PACS_EINVAL naming `path` when it does not fit. */
pacs_err pacs_fhir__put(char *dst, size_t cap, const char *v, const char *path, pacs_errinfo *ei)
{
    size_t n = strlen(v);
    if (n >= cap) {
        return pacs_errf(ei, PACS_EINVAL, "%s: longer than the %zu characters DICOM allows", path,
                         cap - 1);
    }
    memcpy(dst, v, n + 1);
    return PACS_OK;
}

/* A FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) and, with `time`, dateTime
 * (YYYY-MM-DDThh:mm:ss[.f][Z|+hh:mm]). Returns 0 when malformed. */
int pacs_fhir__date_ok(const char *s, int time)
{
    static const char *const forms[] = {"dddd", "dddd-dd", "dddd-dd-dd"};
    size_t n = strlen(s);
    for (size_t f = 0; f < 3; f++) {
        size_t m = strlen(forms[f]);
        if (n < m) {
            continue;
        }
        int ok = 1;
        for (size_t i = 0; i < m && ok; i++) {
            ok = forms[f][i] == 'd' ? isdigit((unsigned char)s[i]) : s[i] == forms[f][i];
        }
        if (ok && n == m) {
            return 1;
        }
        if (ok && f == 2 && time && s[10] == 'T') {
            const char *t = s + 11;
            static const char form[] = "dd:dd:dd";
            for (size_t i = 0; i < 8; i++) {
                if (!t[i] || (form[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != ':')) {
                    return 0;
                }
            }
            t += 8;
            if (*t == '.') {
                t++;
                if (!isdigit((unsigned char)*t)) {
                    return 0;
                }
                while (isdigit((unsigned char)*t)) {
                    t++;
                }
            }
            if (strcmp(t, "Z") == 0) {
                return 1;
            }
            return (t[0] == '+' || t[0] == '-') && isdigit((unsigned char)t[1]) &&
                   isdigit((unsigned char)t[2]) && t[3] == ':' && isdigit((unsigned char)t[4]) &&
                   isdigit((unsigned char)t[5]) && t[6] == '\0';
        }
    }
    return 0;
}

int pacs_fhir_id_valid(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n > 64) {
        return 0;
    }
    for (const char *p = text; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
            return 0;
        }
    }
    return 1;
}

/* ---- identifier systems ---- */

pacs_err pacs_fhir_ids_load(const pacs_config *cfg, pacs_fhir_ids *out, pacs_errinfo *ei)
{
    static const char *const known[] = {"bhxh", "cccd", "mrn"};
    memset(out, 0, sizeof *out);
    out->n = pacs_orders_id_systems(cfg, out->system, PACS_PATIENT_IDS_MAX);
    if (out->n > PACS_PATIENT_IDS_MAX) {
        out->n = PACS_PATIENT_IDS_MAX;
    }
    for (size_t i = 0; i < out->n; i++) {
        char key[40];
        snprintf(key, sizeof key, "fhir.id.%s", out->system[i]);
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            if (strcmp(out->system[i], known[k]) != 0) {
                continue; /* a system of patient.id_order without a FHIR setting: none */
            }
            const char *v = pacs_config_str(cfg, key);
            if (strlen(v) >= sizeof out->uris[i]) {
                return pacs_errf(ei, PACS_EINVAL, "%s: longer than %zu bytes", key,
                                 sizeof out->uris[i] - 1);
            }
            memcpy(out->uris[i], v, strlen(v) + 1);
        }
    }
    return PACS_OK;
}

/* The URI at `*p` of a comma list (spaces around it skipped) into [*b, *e); advances *p. */
static int next_uri(const char **p, const char **b, const char **e)
{
    const char *s = *p;
    while (*s == ',' || *s == ' ') {
        s++;
    }
    if (!*s) {
        return 0;
    }
    const char *t = s;
    while (*t && *t != ',' && *t != ' ') {
        t++;
    }
    *b = s;
    *e = t;
    *p = t;
    return 1;
}

const char *pacs_fhir_ids_system(const pacs_fhir_ids *ids, const char *uri)
{
    size_t n = strlen(uri);
    for (size_t i = 0; i < ids->n; i++) {
        const char *p = ids->uris[i], *b, *e;
        while (next_uri(&p, &b, &e)) {
            if ((size_t)(e - b) == n && memcmp(b, uri, n) == 0) {
                return ids->system[i];
            }
        }
    }
    return NULL;
}

void pacs_fhir_ids_uri(const pacs_fhir_ids *ids, const char *system, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ids->n; i++) {
        const char *p = ids->uris[i], *b, *e;
        if (strcmp(ids->system[i], system) == 0 && next_uri(&p, &b, &e)) {
            snprintf(buf, cap, "%.*s", (int)(e - b), b);
            return;
        }
    }
}

int pacs_fhir_patient_id(const pacs_patient_id *id, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s-%s", id->system, id->value);
    return n > 0 && (size_t)n < cap && pacs_fhir_id_valid(buf);
}

pacs_err pacs_fhir_patient_id_parse(const pacs_fhir_ids *ids, const char *text,
                                    pacs_patient_id *out, pacs_errinfo *ei)
{
    const char *dash = strchr(text, '-');
    memset(out, 0, sizeof *out);
    for (size_t i = 0; dash && i < ids->n; i++) {
        size_t n = strlen(ids->system[i]);
        if ((size_t)(dash - text) == n && memcmp(text, ids->system[i], n) == 0 && dash[1] &&
            strlen(dash + 1) < sizeof out->value) {
            memcpy(out->system, ids->system[i], n + 1);
            memcpy(out->value, dash + 1, strlen(dash + 1) + 1);
            return PACS_OK;
        }
    }
    return pacs_errf(ei, PACS_EBADDATA,
                     "Patient id '%.64s' is not <system>-<value> of a known system", text);
}

/* ---- Patient ---- */

/* The identifiers of known systems, one per system. */
static pacs_err read_ids(const pacs_fhir_ids *ids, const json_t *res, pacs_patient *out,
                         pacs_errinfo *ei)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(res, "identifier"), i, x)
    {
        const char *sys = pacs_fhir__str(x, "system"), *value = pacs_fhir__str(x, "value");
        const char *mine = sys ? pacs_fhir_ids_system(ids, sys) : NULL;
        if (!mine || !value) {
            continue;
        }
        for (size_t k = 0; k < out->n_ids; k++) {
            if (strcmp(out->ids[k].system, mine) == 0) {
                return pacs_errf(ei, PACS_EINVAL,
                                 "Patient.identifier[%zu]: a second identifier of system %s", i,
                                 sys);
            }
        }
        pacs_patient_id *id = &out->ids[out->n_ids];
        char path[64];
        snprintf(path, sizeof path, "Patient.identifier[%zu].value", i);
        memcpy(id->system, mine, strlen(mine) + 1);
        pacs_err err = pacs_fhir__put(id->value, sizeof id->value, value, path, ei);
        if (err != PACS_OK) {
            return err;
        }
        out->n_ids++;
    }
    if (out->n_ids == 0) {
        return pacs_errf(ei, PACS_EINVAL,
                         "Patient.identifier: none of a known system (see fhir.id.bhxh, "
                         "fhir.id.cccd, fhir.id.mrn)");
    }
    return PACS_OK;
}

/* Appends the strings of array `a` joined by spaces; 0 when a part holds a PN delimiter. */
static int join(char *dst, size_t cap, const json_t *a)
{
    size_t i;
    const json_t *x;
    json_array_foreach(a, i, x)
    {
        const char *s = json_string_value(x);
        if (strpbrk(s, "^=\\")) {
            return 0;
        }
        size_t used = strlen(dst);
        int n = snprintf(dst + used, cap - used, "%s%s", i ? " " : "", s);
        if (n < 0 || (size_t)n >= cap - used) {
            return 0; /* too long: refused, never cut (a cut can split a UTF-8 character) */
        }
    }
    return 1;
}

/* The official (else usual, else first) HumanName as a DICOM PN. */
static pacs_err read_name(const json_t *res, pacs_patient *out, pacs_errinfo *ei)
{
    const json_t *names = json_object_get(res, "name"), *pick = NULL;
    static const char *const uses[] = {"official", "usual"};
    for (size_t u = 0; u < 2 && !pick; u++) {
        size_t i;
        const json_t *x;
        json_array_foreach(names, i, x)
        {
            const char *use = pacs_fhir__str(x, "use");
            if (!pick && use && strcmp(use, uses[u]) == 0) {
                pick = x;
            }
        }
    }
    if (!pick) {
        pick = json_array_get(names, 0);
    }
    if (!pick) {
        return PACS_OK;
    }
    char parts[5][128];
    memset(parts, 0, sizeof parts);
    const char *family = pacs_fhir__str(pick, "family"), *text = pacs_fhir__str(pick, "text");
    int ok = 1;
    if (family) {
        ok = !strpbrk(family, "^=\\") && strlen(family) < sizeof parts[0];
        snprintf(parts[0], sizeof parts[0], "%s", family);
        ok = ok && join(parts[1], sizeof parts[1], json_object_get(pick, "given"));
    } else if (text && !json_object_get(pick, "given")) {
        /* "Nguyễn Văn An": the family name first, as Vietnamese names are written */
        const char *sp = strchr(text, ' ');
        ok = !strpbrk(text, "^=\\") && strlen(text) < sizeof parts[1];
        snprintf(parts[0], sizeof parts[0], "%.*s", (int)(sp ? sp - text : (long)strlen(text)),
                 text);
        snprintf(parts[1], sizeof parts[1], "%s", sp ? sp + 1 : "");
    } else {
        ok = join(parts[1], sizeof parts[1], json_object_get(pick, "given"));
    }
    ok = ok && join(parts[3], sizeof parts[3], json_object_get(pick, "prefix")) &&
         join(parts[4], sizeof parts[4], json_object_get(pick, "suffix"));
    if (!ok) {
        return pacs_errf(ei, PACS_EINVAL,
                         "Patient.name: a part holds ^, = or \\, or is too long for a DICOM name");
    }
    int last = 4;
    while (last > 0 && !parts[last][0]) {
        last--;
    }
    size_t used = 0;
    for (int i = 0; i <= last; i++) {
        int n = snprintf(out->name + used, sizeof out->name - used, "%s%s", i ? "^" : "", parts[i]);
        if (n < 0 || (size_t)n >= sizeof out->name - used) {
            return pacs_errf(ei, PACS_EINVAL, "Patient.name: too long for a DICOM name");
        }
        used += (size_t)n;
    }
    return PACS_OK;
}

pacs_err pacs_fhir_patient_read(const pacs_fhir_ids *ids, const json_t *res, pacs_patient *out,
                                pacs_errinfo *ei)
{
    static const char *const genders[] = {"male", "female", "other", "unknown", NULL};
    memset(out, 0, sizeof *out);
    const char *type = pacs_fhir__str(res, "resourceType");
    if (!type || strcmp(type, "Patient") != 0) {
        return pacs_errf(ei, PACS_EBADDATA, "resourceType: must be Patient");
    }
    pacs_err err = pacs_fhir__check_shape(res, patient_elems, "Patient", ei);
    if (err == PACS_OK) {
        err =
            pacs_fhir__check_member(res, "identifier", pacs_fhir__identifier_elems, "Patient", ei);
    }
    if (err == PACS_OK) {
        err = pacs_fhir__check_member(res, "name", pacs_fhir__name_elems, "Patient", ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    const char *id = pacs_fhir__str(res, "id"), *gender = pacs_fhir__str(res, "gender"),
               *birth = pacs_fhir__str(res, "birthDate");
    if (id && !pacs_fhir_id_valid(id)) {
        return pacs_errf(ei, PACS_EBADDATA, "Patient.id: not a FHIR id");
    }
    if (gender && !pacs_fhir__one_of(gender, genders)) {
        return pacs_errf(ei, PACS_EBADDATA,
                         "Patient.gender: must be male, female, other or unknown");
    }
    if (birth && !pacs_fhir__date_ok(birth, 0)) {
        return pacs_errf(ei, PACS_EBADDATA, "Patient.birthDate: not a FHIR date");
    }
    err = read_ids(ids, res, out, ei);
    if (err == PACS_OK) {
        err = read_name(res, out, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    if (gender && strcmp(gender, "unknown") != 0) {
        out->sex[0] = (char)toupper((unsigned char)gender[0]);
    }
    if (birth && strlen(birth) == 10) {
        snprintf(out->birth_date, sizeof out->birth_date, "%.4s%.2s%.2s", birth, birth + 5,
                 birth + 8);
    }
    return PACS_OK;
}
