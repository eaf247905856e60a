// SPDX-License-Identifier: MIT
/* HL7 v2 acknowledgements (ack.h). No state; every call builds one ACK into its buffer. */
#include "hl7/ack.h"

#include <stdio.h>
#include <string.h>

const char *pacs_hl7_ack_code_name(pacs_hl7_ack_code c)
{
    return c == PACS_HL7_AE ? "AE" : c == PACS_HL7_AR ? "AR" : "AA";
}

/* A field's text, escaped and in `cs`, then the field separator unless `last`. */
static pacs_err field(pacs_buf *out, const char *utf8, pacs_hl7_charset cs, int last)
{
    pacs_err err = pacs_hl7_escape(out, utf8, cs);
    if (err == PACS_OK && !last) {
        err = pacs_buf_puts(out, "|");
    }
    return err;
}

/* ERR-2 (ERL): segment^sequence^field^repetition^component^subcomponent, trailing empties cut. */
static pacs_err location(pacs_buf *out, const pacs_hl7_error *e)
{
    if (!e->seg[0]) {
        return PACS_OK;
    }
    unsigned v[5] = {e->seq ? e->seq : 1, e->field, e->rep, e->comp, e->sub};
    size_t n = 5;
    while (n > 1 && v[n - 1] == 0) {
        n--;
    }
    if (v[1] != 0 && v[2] == 0 && n > 2) {
        v[2] = 1; /* a component of a field names its repetition */
    }
    pacs_err err = pacs_buf_puts(out, e->seg);
    for (size_t i = 0; i < n && err == PACS_OK; i++) {
        err = v[i] ? pacs_buf_printf(out, "^%u", v[i]) : pacs_buf_puts(out, "^");
    }
    return err;
}

/* True for versions before 2.5, whose receivers read ERR-1 rather than ERR-2/ERR-3. */
static int pre_25(const char *version)
{
    return strncmp(version, "2.", 2) == 0 && version[2] >= '1' && version[2] <= '4' &&
           (version[3] == '\0' || version[3] == '.');
}

pacs_err pacs_hl7_ack_build(const pacs_hl7_header *h, pacs_hl7_ack_code code,
                            const pacs_hl7_error *e, const char *control_id, const char *timestamp,
                            pacs_buf *out)
{
    int c = pacs_hl7_charset_parse(h->charset);
    pacs_hl7_charset cs = c >= 0 ? (pacs_hl7_charset)c : PACS_HL7_ASCII;
    const char *version = strncmp(h->version, "2.", 2) == 0 ? h->version : "2.5.1";
    pacs_err err = pacs_buf_puts(out, "MSH|^~\\&|");
    if (err == PACS_OK) {
        err = field(out, h->receiving_app[0] ? h->receiving_app : "PACSD", cs, 0);
    }
    const char *fields[] = {h->receiving_facility, h->sending_app, h->sending_facility, timestamp,
                            ""};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && err == PACS_OK; i++) {
        err = field(out, fields[i], cs, 0);
    }
    if (err == PACS_OK) {
        /* MSH-9: ACK^trigger^ACK, the trigger escaped as a component. */
        err = pacs_buf_puts(out, h->trigger[0] ? "ACK^" : "ACK|");
        if (err == PACS_OK && h->trigger[0]) {
            err = pacs_hl7_escape(out, h->trigger, cs);
            if (err == PACS_OK) {
                err = pacs_buf_puts(out, "^ACK|");
            }
        }
    }
    if (err == PACS_OK) {
        err = field(out, control_id, cs, 0);
    }
    if (err == PACS_OK) {
        err = field(out, h->processing_id[0] ? h->processing_id : "P", cs, 0);
    }
    if (err == PACS_OK) {
        err = field(out, version, cs, 0);
    }
    if (err == PACS_OK) {
        err = pacs_buf_printf(out, "|||||%s\rMSA|%s|", c >= 0 ? pacs_hl7_charset_name(cs) : "",
                              pacs_hl7_ack_code_name(code));
    }
    if (err == PACS_OK) {
        err = field(out, h->control_id, cs, code == PACS_HL7_AA || !e);
    }
    if (err == PACS_OK && code != PACS_HL7_AA && e) {
        err = field(out, e->text, cs, 1);
    }
    if (err == PACS_OK) {
        err = pacs_buf_puts(out, "\r");
    }
    if (err != PACS_OK || code == PACS_HL7_AA || !e) {
        return err;
    }
    err = pacs_buf_puts(out, "ERR|");
    if (err == PACS_OK && pre_25(version)) {
        /* ERR-1 (ELD): segment^sequence^field^code&text&HL70357 */
        err = pacs_buf_printf(out, "%s^%u^%u^%d&%s&HL70357", e->seg, e->seg[0] ? 1u : 0u, e->field,
                              e->code, pacs_hl7_error_text(e->code));
    }
    if (err == PACS_OK) {
        err = pacs_buf_puts(out, "|");
    }
    if (err == PACS_OK) {
        err = location(out, e);
    }
    if (err == PACS_OK) {
        err = pacs_buf_printf(out, "|%d^%s^HL70357|E||||", e->code, pacs_hl7_error_text(e->code));
    }
    if (err == PACS_OK) {
        err = field(out, e->text, cs, 1);
    }
    if (err == PACS_OK) {
        err = pacs_buf_puts(out, "\r");
    }
    return err;
}
