# Flows Shadow — build, test, sanitize.
#
#   make            build shadowd (and the other programs) into build/
#   make check      unit tests (Check) and integration tests (real mosquitto, real SQLite)
#   make sanitize   the same tests on an ASan + UBSan build in build-san/
#   make valgrind   the integration tests with shadowd under valgrind --leak-check=full

BUILD   ?= build
CC      ?= cc
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror -pedantic
CPPFLAGS += -Iinclude -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS  += -std=c11 $(OPT) $(WARN) -MMD -MP
LDLIBS_CORE := -lcjson -lm
LDLIBS_EDGE := -lpaho-mqtt3as -lsqlite3 -lpthread
CHECK_LIBS  := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -lpthread)

# Pure logic: no I/O, unit-tested directly.
CORE_SRC := src/api_error.c src/isotime.c src/topics.c src/shadow.c src/request.c src/config.c \
            src/log.c src/strmap.c src/intervals.c src/fields.c src/health.c src/tzone.c src/registry.c \
            src/aggregates.c src/latency.c src/tariffs.c src/sim.c src/chart.c
# Edges: SQLite, MQTT, and the message pipeline that ties them together.
EDGE_SRC := src/store.c src/store_registry.c src/store_history.c src/store_intervals.c \
            src/store_aggregates.c src/store_commands.c src/store_query.c src/transport.c src/service.c src/service_shadow.c \
            src/service_meter.c src/service_reads.c src/service_circuits.c \
            src/service_tariffs.c src/service_stats.c
PROGRAMS := shadowd shadowctl metersim

CORE_OBJ := $(CORE_SRC:src/%.c=$(BUILD)/%.o)
EDGE_OBJ := $(EDGE_SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/schema_sql.o $(BUILD)/profile_csv.o
MIGRATIONS := $(sort $(wildcard schema/[0-9]*.sql))
UNIT_SRC := $(wildcard tests/check_*.c)
UNIT_BIN := $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all check test unit integration sanitize valgrind clean format lint

all: $(PROGRAMS:%=$(BUILD)/%)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The migrations are compiled into the programs, so shadowd needs no schema files at run time.
# The directory too: a migration copied in with an old time stamp must still be picked up.
$(BUILD)/schema_sql.c: $(MIGRATIONS) schema/embed.sh schema
	@mkdir -p $(@D)
	sh schema/embed.sh store_migrations $(MIGRATIONS) > $@

$(BUILD)/profile_csv.c: schema/load_profile.csv schema/embed.sh
	@mkdir -p $(@D)
	sh schema/embed.sh default_load_profile schema/load_profile.csv > $@

$(BUILD)/%.o: $(BUILD)/%.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libcore.a: $(CORE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/shadowd: $(BUILD)/main.o $(EDGE_OBJ) $(BUILD)/libcore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_EDGE) $(LDLIBS_CORE)

# The operator CLI needs the store (every store*.c) but no MQTT.
# shadowctl: one file per command (src/ctl_*.c) around shadowctl.c.
CTL_OBJ := $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/ctl_*.c))
$(BUILD)/shadowctl: $(BUILD)/shadowctl.o $(CTL_OBJ) $(filter $(BUILD)/store%.o,$(EDGE_OBJ)) \
                    $(BUILD)/schema_sql.o $(BUILD)/libcore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lsqlite3 $(LDLIBS_CORE)

# The fleet simulator: physics in libcore (sim.c), MQTT in metersim.c; no store.
$(BUILD)/metersim: $(BUILD)/metersim.o $(BUILD)/profile_csv.o $(BUILD)/libcore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lpaho-mqtt3as -lpthread $(LDLIBS_CORE)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libcore.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcore.a $(CHECK_LIBS) $(LDLIBS_CORE)

# Store tests open a real SQLite file through the store, so they link the store's objects.
STORE_OBJ := $(filter $(BUILD)/store%.o,$(EDGE_OBJ)) $(BUILD)/schema_sql.o
$(BUILD)/tests/check_store_%: tests/check_store_%.c $(STORE_OBJ) $(BUILD)/libcore.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) $(LDFLAGS) -o $@ $< $(STORE_OBJ) $(BUILD)/libcore.a \
	    $(CHECK_LIBS) -lsqlite3 $(LDLIBS_CORE)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_FORK=yes $$t; done

integration: all
	BUILD=$(BUILD) tests/integration/run.sh

check: unit integration
test: check

sanitize:
	$(MAKE) BUILD=build-san OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" check

valgrind: all
	BUILD=$(BUILD) SHADOWD_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --quiet" \
	    tests/integration/run.sh

format:
	clang-format -i src/*.c src/*.h include/*.h tests/*.c tests/fuzz/*.c tests/faults/*.c

lint:
	clang-format --dry-run --Werror src/*.c src/*.h include/*.h tests/*.c tests/fuzz/*.c tests/faults/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Iinclude src tests

clean:
	rm -rf build build-san

-include $(CORE_OBJ:.o=.d) $(EDGE_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(BUILD)/main.d $(BUILD)/shadowctl.d $(BUILD)/metersim.d

# Benchmarks (bench/README.md): `make bench` builds them and runs each at a size of minutes.
BENCH_BIN := $(BUILD)/bench/intervals $(BUILD)/bench/loadgen $(BUILD)/bench/nodelay.so
.PHONY: bench
bench: $(BUILD)/shadowd $(BUILD)/shadowctl $(BENCH_BIN)
	BUILD=$(BUILD) bench/run.sh

# An hour of metersim load with shadowd's memory sampled each minute (not part of the tests).
.PHONY: soak
soak: $(BUILD)/shadowd $(BUILD)/shadowctl $(BUILD)/metersim $(BENCH_BIN)
	BUILD=$(BUILD) bench/soak.sh $(SOAK_ARGS)

$(BUILD)/bench/intervals: bench/intervals.c bench/meter_model.h $(STORE_OBJ) $(BUILD)/libcore.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Isrc $(CFLAGS) $(LDFLAGS) -o $@ $< $(STORE_OBJ) $(BUILD)/libcore.a \
	    -lsqlite3 $(LDLIBS_CORE)

$(BUILD)/bench/loadgen: bench/loadgen.c bench/meter_model.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpaho-mqtt3as -lpthread

$(BUILD)/bench/nodelay.so: bench/nodelay.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $< -ldl

# Fault tests (tests/faults/run.sh): kill -9, broker restart, full disk, locked database, under
# metersim load; everything the broker acknowledged must be in the history exactly once.
.PHONY: faults
faults: $(BUILD)/shadowd $(BUILD)/shadowctl $(BUILD)/metersim $(BUILD)/faults/enospc.so
	BUILD=$(BUILD) bash tests/faults/run.sh

$(BUILD)/faults/enospc.so: tests/faults/enospc.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $< -ldl

# Fuzzing (clang + libFuzzer, ASan + UBSan): each target for FUZZ_SECONDS (default 60) after
# replaying tests/fuzz/regressions/; binaries in build-fuzz/. See tests/fuzz/run.sh.
.PHONY: fuzz
fuzz:
	sh tests/fuzz/run.sh
