# Builds build/ngx_bar_hls_module.so against Debian's nginx (package
# nginx-dev, /usr/share/nginx/src) or against NGINX_SRC=<nginx source tree>.
#
#   make            the module
#   make demo       fake camera + nginx with conf/demo.conf (the main job)
#   make test       installs what it needs, runs unit and end-to-end tests
#   make unit       unit tests of the nginx-free media core only
#   make fuzz       fuzzes the request parsers (libFuzzer) FUZZ_SECONDS long
#   make fuzz-segmenter   fuzzes the segmenter with garbage packets
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
AV_PKGS    = libavformat libavcodec libavutil
AV_CFLAGS  = $(shell pkg-config --cflags $(AV_PKGS))
AV_LIBS    = $(shell pkg-config --libs $(AV_PKGS))

CORE_SRCS := $(wildcard ngx_bar_hls_module/core/*.c)
URI_SRCS  := ngx_bar_hls_module/core/bh_uri.c ngx_bar_hls_module/core/bh_util.c
SANITIZE  := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
WARN      := -Wall -Wextra -Wpointer-arith -Wno-unused-parameter -Werror

.PHONY: all module demo demo-run test check unit unit-run fuzz \
        fuzz-segmenter clean setup FORCE test-asan asan-check asan

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

$(BUILD)/test_core: tests/unit/test_core.c $(CORE_SRCS) \
                    ngx_bar_hls_module/core/bh_media.h
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -fno-omit-frame-pointer \
	    -Ingx_bar_hls_module/core $(AV_CFLAGS) \
	    -o $@ tests/unit/test_core.c $(CORE_SRCS) $(AV_LIBS) -lpthread

$(BUILD)/replay_uri: fuzz/replay.c fuzz/fuzz_uri.c $(URI_SRCS) \
                    ngx_bar_hls_module/core/bh_media.h
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -Ingx_bar_hls_module/core \
	    -o $@ fuzz/replay.c fuzz/fuzz_uri.c $(URI_SRCS)

$(BUILD)/replay_segmenter: fuzz/replay.c fuzz/fuzz_segmenter.c $(CORE_SRCS) \
                          ngx_bar_hls_module/core/bh_media.h
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -Ingx_bar_hls_module/core \
	    $(AV_CFLAGS) -o $@ fuzz/replay.c fuzz/fuzz_segmenter.c \
	    $(CORE_SRCS) $(AV_LIBS) -lpthread

$(BUILD)/fuzz_uri: fuzz/fuzz_uri.c $(URI_SRCS) \
                   ngx_bar_hls_module/core/bh_media.h
	mkdir -p $(BUILD)
	clang -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	    -Ingx_bar_hls_module/core -o $@ fuzz/fuzz_uri.c $(URI_SRCS)

fuzz: $(BUILD)/fuzz_uri
	mkdir -p $(BUILD)/fuzz-corpus
	$(BUILD)/fuzz_uri -max_total_time=$(FUZZ_SECONDS) -max_len=256 \
	    -print_final_stats=1 $(BUILD)/fuzz-corpus fuzz/corpus

$(BUILD)/fuzz_segmenter: fuzz/fuzz_segmenter.c $(CORE_SRCS) \
                         ngx_bar_hls_module/core/bh_media.h
	mkdir -p $(BUILD)
	clang -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	    -Ingx_bar_hls_module/core $(AV_CFLAGS) -o $@ \
	    fuzz/fuzz_segmenter.c $(CORE_SRCS) $(AV_LIBS) -lpthread

fuzz-segmenter: $(BUILD)/fuzz_segmenter
	mkdir -p $(BUILD)/fuzz-segmenter-corpus
	$(BUILD)/fuzz_segmenter -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4096 -timeout=10 -print_final_stats=1 \
	    $(BUILD)/fuzz-segmenter-corpus fuzz/segmenter-corpus

$(BUILD)/fixture.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=320x240:rate=25 \
	    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 12 \
	    -c:v libx264 -g 25 -bf 0 -pix_fmt yuv420p -c:a aac $@

setup:
	scripts/setup

# The targets that install their own dependencies run the rest in a new
# make: one that starts after "setup" finds what setup installed.

unit: setup
	$(MAKE) unit-run

unit-run: $(BUILD)/test_core $(BUILD)/fixture.mkv
	prove -v --exec '' $(BUILD)/test_core :: $(BUILD)/fixture.mkv

test: setup
	$(MAKE) check

check: module $(BUILD)/test_core $(BUILD)/fixture.mkv \
       $(BUILD)/replay_uri $(BUILD)/replay_segmenter
	scripts/run-tests

demo: setup
	$(MAKE) demo-run

demo-run: module
	scripts/demo

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
	$(MAKE) asan-check

asan-check: asan
	scripts/test-asan $(ASAN_DIR)

clean:
	rm -rf $(BUILD) t/servroot*
