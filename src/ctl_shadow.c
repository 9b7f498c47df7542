/* ctl_shadow.c — `shadowctl shadow SERIAL`: the document exactly as `meters/{serial}/get`
 * answers it (SPEC §4.5): desired, reported and, when non-empty, delta; metadata; version;
 * timestamp. The delta is computed here by the same code shadowd uses, since it is never stored. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "shadow.h"

/* Prints the document of a stored row; returns the exit code. */
static int ctl_shadow_print(const char *serial, const struct store_shadow *row)
{
    struct shadow_doc doc;
    if (shadow_doc_from_json(row->document, &doc) != 0) {
        fprintf(stderr, "shadowctl: the stored document of %s is unreadable\n", serial);
        return CTL_FAILURE;
    }
    doc.version = row->version;
    cJSON *json = shadow_doc_to_json(&doc, true);
    shadow_doc_clear(&doc);
    if (json == NULL) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    int rc = ctl_print_json(json);
    cJSON_Delete(json);
    return rc;
}

static int ctl_shadow_show(const struct ctl *ctl, struct store *st, const char *serial)
{
    struct store_shadow row;
    if (store_shadow_load(st, serial, &row) != STORE_OK)
        return ctl_store_failed(ctl, st, "load shadow");
    int rc;
    if (!row.found || row.deleted) {
        fprintf(stderr, "shadowctl: no shadow exists for meter: %s\n", serial);
        rc = CTL_FAILURE;
    } else {
        rc = ctl_shadow_print(serial, &row);
    }
    store_shadow_free(&row);
    return rc;
}

int ctl_shadow(struct ctl *ctl, int argc, char **argv)
{
    const char *serial = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            continue; /* the document is JSON already */
        int rc = ctl_serial_word(argv[0], argv[i], &serial);
        if (rc != CTL_NEXT)
            return rc;
    }
    if (serial == NULL)
        return ctl_command_bad_usage(argv[0], "SERIAL is required");
    if (ctl->csv)
        return ctl_command_bad_usage(argv[0], "a document has no CSV form; it prints JSON");
    if (ctl_check_serial(argv[0], serial) != CTL_OK)
        return CTL_USAGE;
    struct store *st = NULL;
    if (ctl_open_read(ctl, &st) != 0)
        return CTL_FAILURE;
    int rc = ctl_shadow_show(ctl, st, serial);
    store_close(st);
    return ctl_flush(rc);
}
