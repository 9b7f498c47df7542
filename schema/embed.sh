#!/bin/sh
# Turns the numbered migrations schema/NNN_*.sql into C byte arrays, one per file, in order, so
# shadowd carries its schema and needs no files at run time. Byte arrays, not string literals:
# ISO C caps the length of a literal a compiler must accept.
set -eu
echo '/* Generated from the schema migrations by schema/embed.sh; do not edit. */'
echo '#include <stddef.h>'
n=0
for f in "$@"; do
    n=$((n + 1))
    printf '/* %s */\nstatic const unsigned char migration_%d[] = {\n' "$(basename "$f")" "$n"
    od -An -v -tu1 "$f" | sed -e 's/  */,/g' -e 's/^,//' -e 's/$/,/'
    echo '0};'
done
echo 'const char *const store_migrations[] = {'
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    printf '    (const char *)migration_%d,\n' "$i"
done
echo '    NULL};'
