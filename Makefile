# Builds build/ngx_bar_hls_module.so against Debian's nginx (package
# nginx-dev, /usr/share/nginx/src) or against NGINX_SRC=<nginx source tree>.
#
#   make            the module
#   make demo       fake camera + nginx with conf/demo.conf (the main job)
#   make test       installs what it needs, runs unit and end-to-end tests
#   make unit       unit tests of the nginx-free media core only
#   make fuzz       fuzzes the request parsers (libFuzzer) FUZZ_SECONDS long
#   make fuzz-segmenter   fuzzes the segmenter with garbage packets
#   make fuzz-hevc  fuzzes the H.265 parser

NGINX_SRC ?= /usr/share/nginx/src
BUILD     := build
NGX_BUILD := $(CURDIR)/build/nginx$(subst /,_,$(abspath $(NGINX_SRC)))
CC        ?= cc

MODULE_SRCS := $(wildcard ngx_bar_hls_module/*.c ngx_bar_hls_module/*.h \
                          ngx_bar_hls_module/core/*.c \
                          ngx_bar_hls_module/core/*.h) config

# recursive (=), not simple (:=): evaluated when a recipe runs, after
# "setup" installed pkg-config and libav on a fresh machine
AV_PKGS    = libavformat libavcodec libavutil libswresample
AV_CFLAGS  = $(shell pkg-config --cflags $(AV_PKGS))
AV_LIBS    = $(shell pkg-config --libs $(AV_PKGS))

CORE_SRCS := $(wildcard ngx_bar_hls_module/core/*.c)
URI_SRCS  := ngx_bar_hls_module/core/bh_uri.c ngx_bar_hls_module/core/bh_util.c
HEVC_SRCS := ngx_bar_hls_module/core/bh_hevc.c ngx_bar_hls_module/core/bh_nal.c
HEVC_DEPS := $(HEVC_SRCS) ngx_bar_hls_module/core/bh_hevc.h \
             ngx_bar_hls_module/core/bh_nal.h ngx_bar_hls_module/core/bh_media.h
# the H.265 streams of the unit tests (tests/unit/test_hevc.c says which)
HEVC_FIXTURES := $(addprefix $(BUILD)/hevc/hevc-,main.hevc main10.hevc \
                   rext.hevc sub.hevc main.mp4)
SANITIZE  := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
WARN      := -Wall -Wextra -Wpointer-arith -Wno-unused-parameter -Werror

.PHONY: all module demo demo-run test check unit unit-run fuzz \
        fuzz-segmenter fuzz-hevc clean setup FORCE

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

TEST_HEVC := tests/unit/test_hevc.c tests/unit/test_hevc_bad.c

$(BUILD)/test_hevc: $(TEST_HEVC) tests/unit/test_hevc.h tests/unit/tap.h \
                    $(HEVC_DEPS)
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -fno-omit-frame-pointer \
	    -Ingx_bar_hls_module/core $(AV_CFLAGS) \
	    -o $@ $(TEST_HEVC) $(HEVC_SRCS) $(AV_LIBS)

AUDIO_SRCS := ngx_bar_hls_module/core/bh_audio.c ngx_bar_hls_module/core/bh_aac.c

$(BUILD)/test_audio: tests/unit/test_audio.c tests/unit/tap.h $(AUDIO_SRCS) \
                     ngx_bar_hls_module/core/bh_audio.h \
                     ngx_bar_hls_module/core/bh_audio_int.h \
                     ngx_bar_hls_module/core/bh_media.h
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -fno-omit-frame-pointer \
	    -Ingx_bar_hls_module/core $(AV_CFLAGS) \
	    -o $@ tests/unit/test_audio.c $(AUDIO_SRCS) $(AV_LIBS) -lm

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

$(BUILD)/replay_hevc: fuzz/replay.c fuzz/fuzz_hevc.c $(HEVC_DEPS)
	mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu99 $(WARN) $(SANITIZE) -Ingx_bar_hls_module/core \
	    -o $@ fuzz/replay.c fuzz/fuzz_hevc.c $(HEVC_SRCS)

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

$(BUILD)/fuzz_hevc: fuzz/fuzz_hevc.c $(HEVC_DEPS)
	mkdir -p $(BUILD)
	clang -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	    -Ingx_bar_hls_module/core -o $@ fuzz/fuzz_hevc.c $(HEVC_SRCS)

fuzz-hevc: $(BUILD)/fuzz_hevc
	mkdir -p $(BUILD)/fuzz-hevc-corpus
	$(BUILD)/fuzz_hevc -max_total_time=$(FUZZ_SECONDS) -max_len=2048 \
	    -print_final_stats=1 $(BUILD)/fuzz-hevc-corpus fuzz/hevc-corpus

$(BUILD)/fixture.mkv:
	mkdir -p $(BUILD)
	ffmpeg -nostdin -loglevel error -y \
	    -f lavfi -i testsrc2=size=320x240:rate=25 \
	    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 12 \
	    -c:v libx264 -g 25 -bf 0 -pix_fmt yuv420p -c:a aac $@

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

unit-run: $(BUILD)/test_core $(BUILD)/fixture.mkv $(BUILD)/test_hevc \
          $(HEVC_FIXTURES) $(BUILD)/test_audio
	prove -v --exec '' $(BUILD)/test_core :: $(BUILD)/fixture.mkv
	prove -v --exec '' $(BUILD)/test_hevc :: $(BUILD)/hevc
	prove -v --exec '' $(BUILD)/test_audio

test: setup
	$(MAKE) check

check: module $(BUILD)/test_core $(BUILD)/fixture.mkv \
       $(BUILD)/test_hevc $(HEVC_FIXTURES) $(BUILD)/test_audio \
       $(BUILD)/replay_uri $(BUILD)/replay_segmenter $(BUILD)/replay_hevc
	scripts/run-tests

demo: setup
	$(MAKE) demo-run

demo-run: module
	scripts/demo

clean:
	rm -rf $(BUILD) t/servroot*
