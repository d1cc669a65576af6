# tern — build, run, test.  `make` installs missing Debian packages itself.
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SHELL   := /bin/bash
PKGS     = libevent libevent_openssl openssl libcares libcrypt zlib libpsl

BUILD_DEBS = gcc make pkg-config libevent-dev libc-ares-dev libssl-dev libcrypt-dev openssl zlib1g-dev libpsl-dev publicsuffix
TEST_DEBS  = libcmocka-dev opendkim opendkim-tools python3-pytest python3-aiosmtpd dnsmasq-base bind9-dnsutils swaks \
             libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl whois curl fetchmail \
             postfix isync offlineimap3 getmail6 dovecot-imapd neomutt tmux python3-dkim python3-nacl python3-spf python3-yaml
FUZZ_DEBS  = clang libclang-rt-14-dev

CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
              -Wno-format-nonliteral -Isrc -g
# release build and sanitizer build live in separate object trees
OPT_CFLAGS  = -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong
SAN_CFLAGS  = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      = $(wildcard src/base/*.c src/proto/*.c src/conf/*.c src/queue/*.c src/store/*.c src/crypto/*.c src/io/*.c src/mta/*.c src/cmd/*.c)
LIBSRC   = $(filter-out src/main.c,$(SRC))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)

.PHONY: all deps test-deps run test unit integration install fuzz clean lint imaptest

all: deps build/tern

# --- dependencies: install only what is missing (naming an installed package upgrades it)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT  := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends
define need_debs
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  ( [ -n "$$(find /var/lib/apt/lists -name '*Packages*' 2>/dev/null | head -1)" ] || $(APT) update ) ; \
	  $(APT) install $$missing || { $(APT) update && $(APT) install $$missing; }; fi
endef

deps:
	$(call need_debs,$(BUILD_DEBS))
test-deps: deps
	$(call need_debs,$(TEST_DEBS))
fuzz-deps: deps
	$(call need_debs,$(FUZZ_DEBS))

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

# --- release binary
OBJ = $(SRC:%.c=build/obj/%.o) build/obj/src/main.o
build/obj/%.o: %.c $(wildcard src/*/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@
build/tern: $(sort $(OBJ))
	$(CC) $(OPT_CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

# --- sanitizer build (used by the tests)
SAN_OBJ = $(LIBSRC:%.c=build/san/%.o)
build/san/%.o: %.c $(wildcard src/*/*.h src/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN_CFLAGS) $(PKG_CFLAGS) -c $< -o $@
build/tern-san: $(SAN_OBJ) build/san/src/main.o
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(PKG_LIBS)
build/san/libtern.a: $(SAN_OBJ)
	rm -f $@ && ar rcs $@ $^
build/unit/%: tests/unit/%.c build/san/libtern.a
	@mkdir -p build/unit
	$(CC) $(CFLAGS_BASE) $(SAN_CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/san/libtern.a $(PKG_LIBS) -lcmocka

UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=build/unit/%)

run: all
	./build/tern serve

unit: test-deps $(UNIT_BIN)
	@ok=0; bad=0; for t in $(UNIT_BIN); do \
	  if ASAN_OPTIONS=detect_leaks=1 ./$$t 2>&1; then ok=$$((ok+1)); else bad=$$((bad+1)); echo "FAILED: $$t"; fi; \
	done; echo "unit suites: $$ok passed, $$bad failed"; [ $$bad = 0 ]

# The fault-injection library of the failure-path tests (tests/faults/).
build/faultshim.so: tests/faults/faultshim.c
	@mkdir -p build
	$(CC) -std=gnu11 -Wall -Wextra -Werror -O1 -g -shared -fPIC -o $@ $< -ldl -lpthread

integration: test-deps build/tern-san build/tern build/faultshim.so
	TERN_BIN=$(CURDIR)/build/tern-san /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/integration; \
	  rc=$$?; [ $$rc = 5 ] && rc=0; exit $$rc

# Dovecot's imaptest scripted compliance tests against the IMAP server:
# make imaptest IMAPTEST_SRC=DIR, DIR an imaptest checkout (built there if
# needed, against Debian's dovecot-dev; see bench/RESULTS.md for the commit).
imaptest: deps build/tern
	@[ -n "$(IMAPTEST_SRC)" ] || { echo "usage: make imaptest IMAPTEST_SRC=DIR (a checkout of github.com/dovecot/imaptest)"; exit 2; }
	$(call need_debs,dovecot-dev autoconf automake libtool openssl)
	/usr/bin/python3 tests/imaptest/run_imaptest.py --src "$(IMAPTEST_SRC)" --tern build/tern

test: test-deps
	@$(MAKE) --no-print-directory unit && $(MAKE) --no-print-directory integration

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 build/tern $(DESTDIR)$(PREFIX)/bin/tern
	ln -sf tern $(DESTDIR)$(PREFIX)/bin/sendmail.tern
	ln -sf tern $(DESTDIR)$(PREFIX)/bin/mailq.tern
	for m in docs/*.1; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in docs/*.5; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man5/; done; true

# --- fuzzing: make fuzz [FUZZ_TIME=60]
FUZZ_TIME ?= 30
FUZZ_LIBSRC = $(wildcard src/base/*.c src/proto/*.c src/conf/*.c src/queue/*.c src/crypto/*.c)
fuzz: fuzz-deps
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n $$f $(FUZZ_LIBSRC) -lcrypt -lpthread -lpsl -lz -lcrypto || exit 1; \
	  mkdir -p fuzz/corpus/$$n build/fuzz/corpus-$$n; \
	  ./build/fuzz/$$n -max_total_time=$(FUZZ_TIME) -max_len=4096 -artifact_prefix=build/fuzz/$$n- build/fuzz/corpus-$$n fuzz/corpus/$$n || exit 1; \
	done

lint:
	@! grep -rn 'include.*\(event2\|ares\|openssl\|zlib\|inotify\)' src/proto src/base src/conf src/store src/queue || { echo "lint: library header outside src/io"; exit 1; }
	@! grep -rnE '\b(strcpy|strcat|sprintf|gets)\(' src || { echo "lint: unbounded string function"; exit 1; }

clean:
	rm -rf build
