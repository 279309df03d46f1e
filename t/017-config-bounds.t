# The limits of every parameter and directive, as the README gives them:
# the values at a limit are accepted (nginx starts, and the status shows
# the value where it has one), the values just beyond are refused by
# `nginx -t` with a message that names the parameter or directive.  Also
# invalid values of every other directive.  No camera is needed: the
# cameras here point at a closed port.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use JSON::PP ();
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# nothing listens there
$ENV{TEST_NGINX_DEAD_PORT} = free_port();

# --- bar_status: key=value ...  the camera "ale" of the status JSON
sub check_status {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $st = eval { JSON::PP::decode_json($body) } || {};
    my $c = $st->{cameras}{ale};
    ok($c, "$name - the status lists ale") or return;
    my %want = ($block->bar_status // '') =~ /(\w+)=(\S+)/g;
    is($c->{$_}, $want{$_}, "$name - status: $_ = $want{$_}") for sort keys %want;
}

run_tests();

__DATA__

=== TEST 1: accepted: segment=500ms, the shortest (0.5 s)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=500ms part=250ms bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: segment_target_ms=500 part_target_ms=250



=== TEST 2: accepted: segment=30s, the longest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=30s bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: segment_target_ms=30000 part_target_ms=200



=== TEST 3: refused: segment=499ms
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=499ms;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "segment=499ms"\E}



=== TEST 4: refused: segment=31s
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=31s;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "segment=31s"\E}



=== TEST 5: refused: segment=30001ms
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=30001ms;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "segment=30001ms"\E}



=== TEST 6: refused: segment=0.5s (nginx times have no fractions: 500ms)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=0.5s;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "segment=0.5s"\E}



=== TEST 7: refused: segment=0
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=0;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "segment=0"\E}



=== TEST 8: accepted: window=64, the most
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 window=64 segment=1s bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: segment_target_ms=1000



=== TEST 9: accepted: window=2, the fewest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 window=2 bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: segment_target_ms=2000



=== TEST 10: refused: window=65
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 window=65;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "window=65"\E}



=== TEST 11: refused: window=1
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 window=1;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "window=1"\E}



=== TEST 12: refused: window=-3
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 window=-3;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "window=-3"\E}



=== TEST 13: accepted: part=50ms, the shortest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 part=50ms bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: part_target_ms=50



=== TEST 14: accepted: part= half the segment
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=1s part=500ms bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: segment_target_ms=1000 part_target_ms=500



=== TEST 15: accepted: part=off
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 part=off bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: part_target_ms=0



=== TEST 16: refused: part=49ms
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 part=49ms;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "part=49ms"\E}



=== TEST 17: refused: part= more than half the segment
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=1s part=501ms;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": part must be at most half a segment\E}



=== TEST 18: refused: part=abc
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 part=abc;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "part=abc"\E}



=== TEST 19: accepted: timeout=500ms, the shortest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=500ms bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: variant=fmp4



=== TEST 20: refused: timeout=499ms
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=499ms;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "timeout=499ms"\E}



=== TEST 21: refused: timeout=abc
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=abc;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "timeout=abc"\E}



=== TEST 22: accepted: bitrate=10k, the lowest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: variant=fmp4



=== TEST 23: refused: bitrate=9999
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=9999;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "bitrate=9999"\E}



=== TEST 24: accepted: max_bitrate= bitrate=, the lowest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=1m max_bitrate=1m;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: variant=fmp4



=== TEST 25: accepted: max_bitrate=1024m, the highest
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k max_bitrate=1024m;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: variant=fmp4



=== TEST 26: refused: max_bitrate= below bitrate=
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=1m max_bitrate=1000k;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": max_bitrate must be at least bitrate\E}



=== TEST 27: refused: max_bitrate=1025m
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k max_bitrate=1025m;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "max_bitrate=1025m"\E}



=== TEST 28: refused: max_bitrate=9999
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k max_bitrate=9999;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "max_bitrate=9999"\E}



=== TEST 29: accepted: variant=mpegts
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 variant=mpegts bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- request
GET /live/status
--- bar_check: status
--- bar_status: variant=mpegts



=== TEST 30: refused: variant=hls
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 variant=hls;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": unknown parameter "variant=hls"\E}



=== TEST 31: refused: transport=UDP (case matters)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 transport=UDP;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": unknown parameter "transport=UDP"\E}



=== TEST 32: refused: a parameter without a value
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: camera "ale": invalid value "segment="\E}



=== TEST 33: refused: bar_hls_zone 0
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 0;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: zone size "0" is too small\E}



=== TEST 34: refused: bar_hls_zone -1
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone -1;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: invalid zone size "-1"\E}



=== TEST 35: refused: bar_hls_zone in a server block
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
server {
    listen 127.0.0.1:$TEST_NGINX_DEAD_PORT;
    bar_hls_zone 32m;
}
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"bar_hls_zone" directive is not allowed here\E}



=== TEST 36: refused: bar_hls_allow_origin with a path
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin https://a.example/path;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: invalid origin "https://a.example/path"\E}



=== TEST 37: refused: bar_hls_allow_origin without a scheme
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin a.example;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: invalid origin "a.example"\E}



=== TEST 38: refused: bar_hls_allow_origin off among origins
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin https://a.example off;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qbar_hls: invalid origin "off"\E}



=== TEST 39: refused: bar_hls_playlist_max_age abc
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_playlist_max_age abc;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"bar_hls_playlist_max_age" directive invalid value\E}



=== TEST 40: refused: bar_hls_block_timeout abc
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_block_timeout abc;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"bar_hls_block_timeout" directive invalid value\E}



=== TEST 40b: refused: bar_hls_block_timeout 0 (nothing would be held)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_block_timeout 0;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"bar_hls_block_timeout" directive must be more than 0\E}



=== TEST 41: refused: bar_hls_cdn_cache_control maybe
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
--- config
location /live/ {
    bar_hls;
    bar_hls_cdn_cache_control maybe;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qinvalid value "maybe" in "bar_hls_cdn_cache_control" directive\E}



=== TEST 42: refused: bar_hls_status with an argument
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
server {
    listen 127.0.0.1:$TEST_NGINX_DEAD_PORT;
    location /s { bar_hls_status x; }
}
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qinvalid number of arguments in "bar_hls_status" directive\E}



=== TEST 43: refused: bar_hls in the http block
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 bitrate=10k;
bar_hls;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"bar_hls" directive is not allowed here\E}



=== TEST 44: refused: bar_hls_camera in a location
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_camera ale rtsp://127.0.0.1:1/stream1;
}
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"bar_hls_camera" directive is not allowed here\E}
