// SPDX-License-Identifier: MIT
/*
 * What the files of fhir/'s resource layer share (resource.c: shapes, Patient; order.c:
 * ServiceRequest and Bundle; resource_json.c: resources written back): element tables of the
 * R4 data types read, and the checks over them. Not for handlers. Thread-safe: read-only data.
 */
#ifndef PACS_FHIR_RESOURCE_INTERNAL_H
#define PACS_FHIR_RESOURCE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "pacs/base/err.h"

/* The JSON form of an element: any, a non-empty string, a boolean, a number, a non-empty
 * object, a non-empty array of strings or of objects. */
enum { PACS_FHIR__ANY = 0, STR, BOOL, NUM, OBJ, ARR_STR, ARR_OBJ };

typedef struct pacs_fhir__elem {
    const char *name;
    int shape;
} pacs_fhir__elem;

/* The elements every element has, a backbone element has, and a domain resource has. */
#define BASE                                                                                       \
    {"id", STR},                                                                                   \
    {                                                                                              \
        "extension", ARR_OBJ                                                                       \
    }
#define BACKBONE                                                                                   \
    BASE,                                                                                          \
    {                                                                                              \
        "modifierExtension", ARR_OBJ                                                               \
    }
#define DOMAIN                                                                                     \
    {"id", STR}, {"meta", OBJ}, {"implicitRules", STR}, {"language", STR}, {"text", OBJ},          \
        {"contained", ARR_OBJ}, {"extension", ARR_OBJ},                                            \
    {                                                                                              \
        "modifierExtension", ARR_OBJ                                                               \
    }

extern const pacs_fhir__elem pacs_fhir__identifier_elems[], pacs_fhir__name_elems[],
    pacs_fhir__concept_elems[], pacs_fhir__coding_elems[], pacs_fhir__reference_elems[],
    pacs_fhir__period_elems[];

/* `obj` holds only elements of `table`, each in its JSON form ("_x" beside a primitive x);
 * `path` names it in messages. PACS_EBADDATA; PACS_EUNSUPPORTED for a modifierExtension. */
pacs_err pacs_fhir__check_shape(const json_t *obj, const pacs_fhir__elem *table, const char *path,
                                pacs_errinfo *ei);
/* pacs_fhir__check_shape on member `name` of `obj` (each item of an array), when present. */
pacs_err pacs_fhir__check_member(const json_t *obj, const char *name, const pacs_fhir__elem *table,
                                 const char *path, pacs_errinfo *ei);
/* A CodeableConcept member (or array of them) and their codings. */
pacs_err pacs_fhir__check_concept(const json_t *obj, const char *name, const char *path,
                                  pacs_errinfo *ei);
/* The string member `name`, or NULL. */
const char *pacs_fhir__str(const json_t *obj, const char *name);
/* True when `v` is one of the NULL-terminated `set`. */
int pacs_fhir__one_of(const char *v, const char *const *set);
/* Copies `v` into `dst`; PACS_EINVAL naming `path` when it does not fit. */
pacs_err pacs_fhir__put(char *dst, size_t cap, const char *v, const char *path, pacs_errinfo *ei);
/* A FHIR date, or with `time` also a dateTime. */
int pacs_fhir__date_ok(const char *s, int time);

#endif
