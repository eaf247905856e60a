// SPDX-License-Identifier: MIT
/*
 * The study-date walk's decisions for a limited study find (index_sql.h): whether a find may be
 * read in date order, the count of matches from which that costs less than sorting them, and
 * the bounded counts that tell (pacs_index_find in index_read.c runs them). Debian's SQLite has
 * no STAT4, so its planner cannot know a common name prefix from a rare one: the counts do.
 * Thread-safe: no state.
 */
#include <stdint.h>

#include "storage/index_sql.h"

int pacs_index__walk_possible(const pacs_sql_dialect *d, const pacs_query *q,
                              const pacs_index__find_plan *p)
{
    return d->date_walk && pacs_query_level(q) == PACS_LEVEL_STUDY && pacs_query_limit(q) > 0 &&
           p->c.n_post == 0 && p->c.where.len > 0;
}

size_t pacs_index__walk_cap(const pacs_query *q, uint64_t studies)
{
    /* Pages past 2^32 rows are absurd: held there so that nothing below wraps. */
    const uint64_t most = (uint64_t)1 << 32;
    uint64_t limit = pacs_query_limit(q), offset = pacs_query_offset(q);
    uint64_t want = limit >= most || offset >= most - limit ? most : limit + offset;
    uint64_t x = want * (studies < most ? studies : most), r = 1;
    while (r <= x / r) {
        r *= 2;
    }
    uint64_t lo = r / 2; /* lo * lo <= x < r * r: the integer square root, by halves */
    while (lo + 1 < r) {
        uint64_t mid = lo + (r - lo) / 2;
        if (mid <= x / mid) {
            lo = mid;
        } else {
            r = mid;
        }
    }
    /* Fewer matches than the page asks for are read whole either way. */
    return (size_t)(lo < want + 1 ? want + 1 : lo);
}

pacs_err pacs_index__probe_sql(const pacs_index__compiled *w, pacs_index__probe kind, size_t cap,
                               size_t want, pacs_buf *sql)
{
    const pacs_sql_dialect *d = w->d;
    pacs_buf_reset(sql);
    pacs_err err = PACS_OK;
    switch (kind) {
    case PACS_PROBE_INDEX:
        err = pacs_buf_puts(sql, "SELECT count(*) FROM (SELECT 1 FROM studies st");
        break;
    case PACS_PROBE_TRIGRAMS:
        return pacs_buf_printf(sql,
                               "SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s MATCH ? LIMIT %zu)"
                               " AS m",
                               d->name_fts, d->name_fts, cap);
    case PACS_PROBE_NEWEST:
        /* The newest keys from the date index alone, then only the columns the keys need. */
        err = pacs_buf_printf(sql,
                              "SELECT count(*) FROM (SELECT 1 FROM (SELECT st.pk AS k FROM studies"
                              " st%s%s LIMIT %zu) AS n JOIN studies st ON st.pk = n.k",
                              d->date_walk, pacs_index__order_clause(d, PACS_LEVEL_STUDY, 0), cap);
        cap = want;
        break;
    }
    if (err == PACS_OK) {
        err = pacs_buf_append(sql, w->where.data, w->where.len);
    }
    if (err == PACS_OK) {
        err = pacs_buf_printf(sql, " LIMIT %zu) AS m", cap);
    }
    return err;
}
