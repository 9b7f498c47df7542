/* ctl_history.c — `shadowctl history SERIAL --field F`: the stored history of one reported
 * field (SPEC §5), oldest first.
 *
 * A register field names what the meter reported: `import_a` is the series the meter sent as
 * import_a, which for a direction_reversed register is stored as that register's export. Asking
 * by the wire name keeps `history` in step with `shadow`, which shows the same names. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

enum ctl_field_kind { CTL_FIELD_REGISTER, CTL_FIELD_SERIES };

struct ctl_field {
    const char *name;
    enum ctl_field_kind kind;
    const char *element;            /* register fields: "A" or "B" (A stands for SINGLE too) */
    enum store_flow flow;           /* register fields, as reported */
    enum store_meter_series series; /* other fields */
};

static const struct ctl_field ctl_fields[] = {
    {"import_a", CTL_FIELD_REGISTER, "A", STORE_FLOW_IMPORT, STORE_SERIES_COUNT},
    {"import_b", CTL_FIELD_REGISTER, "B", STORE_FLOW_IMPORT, STORE_SERIES_COUNT},
    {"export_a", CTL_FIELD_REGISTER, "A", STORE_FLOW_EXPORT, STORE_SERIES_COUNT},
    {"export_b", CTL_FIELD_REGISTER, "B", STORE_FLOW_EXPORT, STORE_SERIES_COUNT},
    {"balance", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_BALANCE},
    {"emergency_credit", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_EMERGENCY_CREDIT},
    {"csq", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_CSQ},
    {"voltage", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_VOLTAGE},
    {"voltage_l1", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_VOLTAGE_L1},
    {"voltage_l2", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_VOLTAGE_L2},
    {"voltage_l3", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_VOLTAGE_L3},
    {"health", CTL_FIELD_SERIES, NULL, STORE_FLOW_IMPORT, STORE_SERIES_HEALTH},
};

#define CTL_FIELD_COUNT (sizeof ctl_fields / sizeof ctl_fields[0])

static const struct ctl_field *ctl_field_find(const char *name)
{
    for (size_t i = 0; i < CTL_FIELD_COUNT; i++)
        if (strcmp(ctl_fields[i].name, name) == 0)
            return &ctl_fields[i];
    return NULL;
}

/* The register a register field was reported for (A is the SINGLE register on a single-element
 * meter, as in SPEC §5), or NULL. */
static const struct store_register *ctl_field_register(const struct store_meter *meter,
                                                       const struct ctl_field *field)
{
    for (size_t i = 0; i < meter->register_count; i++) {
        const char *element = meter->registers[i].element;
        if (strcmp(element, field->element) == 0 ||
            (strcmp(field->element, "A") == 0 && strcmp(element, "SINGLE") == 0))
            return &meter->registers[i];
    }
    return NULL;
}

static int ctl_history_list(const struct ctl *ctl, struct store *st, const char *serial,
                            const struct ctl_field *field, const struct store_range *range,
                            enum ctl_format format)
{
    struct store_meter meter;
    if (ctl_meter_lookup(ctl, st, serial, &meter) != CTL_OK)
        return CTL_FAILURE;
    const struct store_register *reg = NULL;
    if (field->kind == CTL_FIELD_REGISTER) {
        reg = ctl_field_register(&meter, field);
        if (reg == NULL) {
            fprintf(stderr, "shadowctl: history: meter %s has no register %s\n", serial,
                    field->element);
            return CTL_FAILURE;
        }
    }
    struct ctl_writer w;
    ctl_writer_init(&w, format, "reading history");
    struct store_sink sink = ctl_writer_sink(&w);
    int q;
    if (reg != NULL) {
        /* The stored flow is the reported one, swapped for a reversed register. */
        enum store_flow flow = field->flow;
        if (reg->direction_reversed)
            flow = flow == STORE_FLOW_IMPORT ? STORE_FLOW_EXPORT : STORE_FLOW_IMPORT;
        q = store_query_register_reads(st, reg->id, flow, range, &sink);
    } else {
        q = store_query_meter_history(st, meter.id, field->series, range, &sink);
    }
    return ctl_writer_close(&w, ctl, st, q, "read history");
}

int ctl_history(struct ctl *ctl, int argc, char **argv)
{
    const char *serial = NULL, *field_name = NULL, *from = NULL, *to = NULL;
    enum ctl_format format;
    for (int i = 1; i < argc; i++) {
        int got = ctl_option_value(argv[0], argc, argv, &i, "--field", &field_name);
        if (got == 0)
            got = ctl_option_value(argv[0], argc, argv, &i, "--from", &from);
        if (got == 0)
            got = ctl_option_value(argv[0], argc, argv, &i, "--to", &to);
        if (got < 0)
            return CTL_USAGE;
        if (got > 0 || ctl_format_option(ctl, argv[i]))
            continue;
        int rc = ctl_serial_word(argv[0], argv[i], &serial);
        if (rc != CTL_NEXT)
            return rc;
    }
    if (serial == NULL)
        return ctl_command_bad_usage(argv[0], "SERIAL is required");
    if (field_name == NULL)
        return ctl_command_bad_usage(argv[0], "--field is required");
    const struct ctl_field *field = ctl_field_find(field_name);
    if (field == NULL)
        return ctl_command_bad_usage(argv[0],
                                     "--field: unknown field '%s' (import_a, import_b, export_a, "
                                     "export_b, balance, emergency_credit, csq, voltage, "
                                     "voltage_l1, voltage_l2, voltage_l3, health)",
                                     field_name);
    struct ctl_zone zone = {false, NULL, {0}};
    struct store_range range;
    int rc = ctl_output_format(ctl, argv[0], &format);
    if (rc == CTL_OK)
        rc = ctl_check_serial(argv[0], serial);
    if (rc == CTL_OK)
        rc = ctl_parse_range(argv[0], from, to, &zone, &range);
    if (rc != CTL_OK)
        return rc;
    struct store *st = NULL;
    if (ctl_open_read(ctl, &st) != 0)
        return CTL_FAILURE;
    rc = ctl_history_list(ctl, st, serial, field, &range, format);
    store_close(st);
    return ctl_flush(rc);
}
