# Builds build/ngx_bar_hls_module.so against Debian's nginx (package
# nginx-dev, /usr/share/nginx/src) or against NGINX_SRC=<nginx source tree>.
#
#   make            the module
#   make demo       fake camera + nginx with conf/demo.conf (the main job)
#   make test       installs what it needs, runs unit and end-to-end tests
#   make unit       unit tests of the nginx-free media core only
#   make fuzz-uri   fuzzes the request parsers (libFuzzer) FUZZ_SECONDS long
#   make fuzz-segmenter   the segmenter with garbage packets
#   make fuzz-avc   the H.264 parsers with garbage bytes
#   make fuzz-hevc  the H.265 parsers with garbage bytes
#   make fuzz-audio the audio transcoder with garbage packets
#   make deb        the Debian package libnginx-mod-http-bar-hls in build/deb/
#   make test-asan  nginx 1.22.1 and the module built with AddressSanitizer
#                   and UBSan (nginx from Debian's source package), t/*.t
#                   run against them, every sanitizer report scanned

NGINX_SRC ?= /usr/share/nginx/src
BUILD     := build
NGX_BUILD := $(CURDIR)/build/nginx$(subst /,_,$(abspath $(NGINX_SRC)))
CC        ?= cc

MODULE_SRCS := $(wildcard ngx_bar_hls_module/*.c ngx_bar_hls_module/*.h \
                          ngx_bar_hls_module/core/*.c \
                          ngx_bar_hls_module/core/*.h) config

# recursive (=), not simple (:=): evaluated when a recipe runs, after
# "setup" installed pkg-config and libav on a fresh machine
AV_PKGS    = libavformat libavcodec libavutil libswresample libswscale
AV_CFLAGS  = $(shell pkg-config --cflags $(AV_PKGS))
AV_LIBS    = $(shell pkg-config --libs $(AV_PKGS))

CORE_SRCS := $(wildcard ngx_bar_hls_module/core/*.c)
SANITIZE  := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
WARN      := -Wall -Wextra -Wpointer-arith -Wno-unused-parameter -Werror

.PHONY: all module demo demo-run test check unit unit-run fuzz replay \
        fuzz-corpus \
        clean setup deb deb-build FORCE test-asan asan-check asan

all: module

module: $(BUILD)/ngx_bar_hls_module.so

# configure writes into its tree, and Debian's copy is root-owned: work on
# a private copy, one per source tree.  --with-compat makes the module
# loadable by any nginx of that version built --with-compat, as Debian's
# is.  A release tarball has ./configure, a git checkout auto/configure.
$(NGX_BUILD)/objs/Makefile: config
	rm -rf $(NGX_BUILD)
	mkdir -p $(NGX_BUILD)
	cp -a $(NGINX_SRC)/. $(NGX_BUILD)/
	cd $(NGX_BUILD) && { [ -x configure ] && c=./configure \
	                     || c=auto/configure; } \
	    && $$c --with-compat --with-threads \
	        --with-cc-opt='-g -O2 -fPIC -Werror' \
	        --add-dynamic-module=$(CURDIR) >configure.log 2>&1 \
	    || { tail -n 30 configure.log; exit 1; }

# which nginx the module in build/ was last built for
$(BUILD)/nginx-src: FORCE
	@mkdir -p $(BUILD)
	@echo '$(abspath $(NGINX_SRC))' | cmp -s - $@ \
	    || echo '$(abspath $(NGINX_SRC))' >$@

$(BUILD)/ngx_bar_hls_module.so: $(NGX_BUILD)/objs/Makefile $(MODULE_SRCS) \
                                $(BUILD)/nginx-src
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules
	# a new inode: a running nginx keeps the module it has mapped
	cp $(NGX_BUILD)/objs/ngx_http_bar_hls_module.so $@.tmp
	mv -f $@.tmp $@

CORE_HDRS := $(wildcard ngx_bar_hls_module/core/*.h)

# one TAP program per tests/unit/test_*.c, each linked with the whole core
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
FIXTURES  := $(BUILD)/fixture.mkv $(BUILD)/fixture-sliced.mkv \
             $(BUILD)/fixture-bframes.mkv \
             $(addprefix $(BUILD)/hevc/hevc-,main.hevc main10.hevc rext.hevc \
                                            sub.hevc main.mp4)

# the core compiled once with the sanitizers, for the unit tests and the
# corpus replays (each object rebuilt when any core header changes)
CORE_ASAN := $(CORE_SRCS:ngx_bar_hls_module/core/%.c=$(BUILD)/core-asan/%.o)

$(BUILD)/core-asan/%.o: ngx_bar_hls_module/core/%.c $(CORE_HDRS)
	@mkdir -p $(BUILD)/core-asan
	$(CC) -c -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -fno-omit-frame-pointer \
	    $(AV_CFLAGS) -o $@ $<

$(BUILD)/libbhcore-asan.a: $(CORE_ASAN)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/unit/%: tests/unit/%.c tests/unit/*.h $(BUILD)/libbhcore-asan.a
	mkdir -p $(BUILD)/unit
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -fno-omit-frame-pointer \
	    -Ingx_bar_hls_module/core $(AV_CFLAGS) \
	    -o $@ $< $(BUILD)/libbhcore-asan.a $(AV_LIBS) -lpthread -lm

# libFuzzer targets fuzz/fuzz_<name>.c, their corpora fuzz/<name>-corpus/:
# make fuzz-<name> fuzzes for FUZZ_SECONDS (needs clang), replay_<name>
# replays the corpus under ASan and UBSan without libFuzzer (make test)
FUZZ_NAMES   := uri segmenter avc hevc audio
REPLAY_BINS  := $(FUZZ_NAMES:%=$(BUILD)/replay_%)
FUZZ_MAX_LEN_uri       := 256
FUZZ_MAX_LEN_segmenter := 65536
FUZZ_MAX_LEN_avc       := 8192
FUZZ_MAX_LEN_hevc      := 2048
FUZZ_MAX_LEN_audio     := 16384

$(BUILD)/replay_%: fuzz/replay.c fuzz/fuzz_%.c $(BUILD)/libbhcore-asan.a
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -Ingx_bar_hls_module/core \
	    $(AV_CFLAGS) -o $@ fuzz/replay.c fuzz/fuzz_$*.c \
	    $(BUILD)/libbhcore-asan.a $(AV_LIBS) -lpthread -lm

$(BUILD)/fuzz_%: fuzz/fuzz_%.c $(CORE_SRCS) $(CORE_HDRS)
	mkdir -p $(BUILD)
	clang -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	    -Ingx_bar_hls_module/core $(AV_CFLAGS) -o $@ \
	    fuzz/fuzz_$*.c $(CORE_SRCS) $(AV_LIBS) -lpthread

fuzz-%: $(BUILD)/fuzz_%
	mkdir -p $(BUILD)/fuzz-$*-corpus
	$(BUILD)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=$(FUZZ_MAX_LEN_$*) -timeout=10 -print_final_stats=1 \
	    $(BUILD)/fuzz-$*-corpus fuzz/$*-corpus

fuzz: fuzz-uri

# seeds of real media for the segmenter target (committed; run by hand)
$(BUILD)/make_corpus: fuzz/make_corpus.c
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(AV_CFLAGS) -o $@ fuzz/make_corpus.c \
	    $(AV_LIBS)

$(BUILD)/fixture-other.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=160x96:rate=15 \
	    -f lavfi -i sine=frequency=880:sample_rate=44100 -t 4 \
	    -c:v libx264 -g 15 -bf 0 -crf 35 -pix_fmt yuv420p \
	    -c:a aac -b:a 32k $@

$(BUILD)/fixture-small.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=176x144:rate=25 \
	    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 4 \
	    -c:v libx264 -g 25 -bf 0 -crf 35 -pix_fmt yuv420p \
	    -c:a aac -b:a 32k $@

fuzz-corpus: $(BUILD)/make_corpus $(BUILD)/fixture-small.mkv \
             $(BUILD)/fixture-other.mkv
	$(BUILD)/make_corpus $(BUILD)/fixture-small.mkv \
	    $(BUILD)/fixture-other.mkv fuzz/segmenter-corpus

replay: $(REPLAY_BINS)
	for n in $(FUZZ_NAMES); do \
	    $(BUILD)/replay_$$n fuzz/$$n-corpus/* || exit 1; \
	done

# H.264 (1 s GOP, 25 fps, no B-frames) and AAC; then the same with every
# picture in 4 slices, as x264's sliced threads make them
$(BUILD)/fixture.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=320x240:rate=25 \
	    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 12 \
	    -c:v libx264 -g 25 -bf 0 -pix_fmt yuv420p -c:a aac $@

$(BUILD)/fixture-sliced.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=640x360:rate=25 \
	    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 12 \
	    -c:v libx264 -g 25 -bf 0 -x264-params slices=4 -pix_fmt yuv420p \
	    -c:a aac $@

# H.264 High with 2 B-frames, for tests/unit/test_quirks.c
$(BUILD)/fixture-bframes.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=320x240:rate=25 -t 4 \
	    -c:v libx264 -g 25 -bf 2 -pix_fmt yuv420p $@

# H.265 from x265, for tests/unit/test_hevc*.c (which says what each is)
X265 = ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=$(1) \
           -c:v libx265 -x265-params log-level=error:$(2)

$(BUILD)/hevc/hevc-main.hevc:
	mkdir -p $(BUILD)/hevc
	$(call X265,320x240:rate=25,keyint=25:level-idc=2:slices=4) \
	    -t 2 -pix_fmt yuv420p $@

$(BUILD)/hevc/hevc-main10.hevc:
	mkdir -p $(BUILD)/hevc
	$(call X265,1920x1080:rate=25,level-idc=4) -t 0.2 \
	    -pix_fmt yuv420p10le $@

$(BUILD)/hevc/hevc-rext.hevc:
	mkdir -p $(BUILD)/hevc
	$(call X265,352x288:rate=25,level-idc=5.1) -t 0.2 -pix_fmt yuv444p $@

$(BUILD)/hevc/hevc-sub.hevc:
	mkdir -p $(BUILD)/hevc
	$(call X265,320x240:rate=25,temporal-layers=1:bframes=4:level-idc=2.1) \
	    -t 0.4 -pix_fmt yuv420p $@

$(BUILD)/hevc/hevc-main.mp4: $(BUILD)/hevc/hevc-main.hevc
	ffmpeg -nostdin -loglevel error -y -i $< -c copy -tag:v hvc1 $@

setup:
	scripts/setup

# The targets that install their own dependencies run the rest in a new
# make: one that starts after "setup" finds what setup installed.

unit: setup
	$(MAKE) unit-run

unit-run: $(UNIT_BINS) $(FIXTURES)
	prove -v --exec '' $(UNIT_BINS) :: $(BUILD)

# what the tests need is built on every core (the tests run one at a time)
JOBS := $(shell nproc 2>/dev/null || echo 1)

test: setup
	$(MAKE) -j$(JOBS) check

check: module $(UNIT_BINS) $(FIXTURES) $(REPLAY_BINS)
	scripts/run-tests

demo: setup
	$(MAKE) demo-run

demo-run: module
	scripts/demo

# The Debian package, built the way Debian's own libnginx-mod-* packages
# are (debian/rules: dh with dh-sequence-nginx from nginx-dev, which
# configures /usr/share/nginx/src in place with --builddir: no copy of
# nginx's tree), from a copy of exactly the files below in build/deb/,
# where dpkg-buildpackage writes its results (it writes them next to the
# source tree).  lintian fails `make deb` on any error or warning.
# The version is debian/changelog's (read with sed: dpkg-dev may not be
# installed yet when make reads this).

DEB_PKG     := libnginx-mod-http-bar-hls
DEB_DIR     := $(BUILD)/deb
DEB_INPUTS  := $(MODULE_SRCS) README.md conf/bar-hls.conf \
               $(shell find debian -type f)
DEB_VERSION := $(shell sed -n '1s/^[^ ]* (\(.*\)).*/\1/p' debian/changelog)
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB_SRC     := $(DEB_DIR)/$(DEB_PKG)-$(DEB_VERSION)
DEB_BASE    := $(DEB_DIR)/$(DEB_PKG)_$(DEB_VERSION)_$(DEB_ARCH)
DEB         := $(DEB_BASE).deb

deb:
	scripts/setup deb
	$(MAKE) deb-build

deb-build: $(DEB)
	lintian --info --fail-on error,warning $(DEB_BASE).changes
	@echo "deb: $(DEB)"

$(DEB): $(DEB_INPUTS)
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	cp --parents $^ $(DEB_SRC)/
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc >../build.log 2>&1 \
	    || { tail -n 40 ../build.log; echo "deb: see $(DEB_DIR)/build.log"; \
	         exit 1; }

# AddressSanitizer + UBSan inside nginx: nginx itself from Debian's source
# package (scripts/setup-asan), configured with the sanitizers, and the
# module as a dynamic module of that very build.  clang: its one runtime
# writes ASan's and UBSan's reports to ASAN_OPTIONS' log_path.  The HTTP
# modules beyond the default ones: those of Debian's nginx that the
# tests' configurations use (auth_request) or that sit in front of media
# servers (realip, stub_status, sub, gunzip, v2).

ASAN_DIR    := $(BUILD)/asan
ASAN_SRC    := $(ASAN_DIR)/nginx-1.22.1
# -fsanitize-address-use-odr-indicator: each object registers its own
# globals with ASan, not the symbol that wins at run time; without it the
# module's 2-entry ngx_modules poisons the binary's, and the master dies in
# ngx_cycle_modules() (global-buffer-overflow) on the first reload
ASAN_CC_OPT := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fsanitize-address-use-odr-indicator
ASAN_LD_OPT := -fsanitize=address,undefined
ASAN_CONF   := --with-cc=clang --with-compat --with-threads --with-debug \
               --with-http_auth_request_module --with-http_realip_module \
               --with-http_stub_status_module --with-http_sub_module \
               --with-http_gunzip_module --with-http_v2_module

$(ASAN_SRC)/configure:
	scripts/setup-asan $(ASAN_DIR)

# what the tree was last configured with
$(ASAN_DIR)/configure-args: FORCE
	@mkdir -p $(ASAN_DIR)
	@echo '$(ASAN_CONF) $(ASAN_CC_OPT) $(ASAN_LD_OPT) $(CURDIR)' \
	    | cmp -s - $@ \
	    || echo '$(ASAN_CONF) $(ASAN_CC_OPT) $(ASAN_LD_OPT) $(CURDIR)' >$@

$(ASAN_SRC)/objs/Makefile: $(ASAN_SRC)/configure $(ASAN_DIR)/configure-args \
                           config
	rm -rf $(ASAN_SRC)/objs
	cd $(ASAN_SRC) && ./configure $(ASAN_CONF) \
	        --with-cc-opt='$(ASAN_CC_OPT)' --with-ld-opt='$(ASAN_LD_OPT)' \
	        --add-dynamic-module=$(CURDIR) >configure.log 2>&1 \
	    || { tail -n 30 configure.log; exit 1; }

$(ASAN_DIR)/ngx_bar_hls_module.so: $(ASAN_SRC)/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(ASAN_SRC) -f objs/Makefile binary modules
	cp $(ASAN_SRC)/objs/nginx $(ASAN_DIR)/nginx.tmp
	mv -f $(ASAN_DIR)/nginx.tmp $(ASAN_DIR)/nginx
	cp $(ASAN_SRC)/objs/ngx_http_bar_hls_module.so $@.tmp
	mv -f $@.tmp $@

asan: $(ASAN_DIR)/ngx_bar_hls_module.so

test-asan: setup
	scripts/setup-asan $(ASAN_DIR)
	$(MAKE) -j$(JOBS) asan-check

asan-check: asan
	scripts/test-asan $(ASAN_DIR)

clean:
	rm -rf $(BUILD) t/servroot*
