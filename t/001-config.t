# Configuration: bar_hls_zone, bar_hls_camera and their errors.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac',
                       auth => 'digest', password => $PASSWORD);

# for "bar_hls_camera NAME env:BAR_HLS_TEST_URL" (read by the nginx master
# while it parses the configuration)
$ENV{BAR_HLS_TEST_URL} = "rtsp://admin:$PASSWORD\@127.0.0.1:$Cam->{port}/stream1";
delete $ENV{BAR_HLS_TEST_UNSET};

$ENV{TEST_NGINX_DEAD_PORT} = free_port();

run_tests();

__DATA__

=== TEST 1: duplicate camera
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:1/stream1;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:2/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: duplicate camera "ale"



=== TEST 2: the URL must be rtsp:// or rtsps://
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale http://admin:s3cr3t-pw@127.0.0.1:1/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": the URL must start with rtsp:// or rtsps://



=== TEST 3: a scheme and nothing else is no URL
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": the URL must start with rtsp:// or rtsps://



=== TEST 4: a camera needs the zone
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:1/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: "bar_hls_camera" needs "bar_hls_zone" in the http block



=== TEST 5: the zone is too small for the cameras
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 1m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1;
bar_hls_camera bob rtsp://127.0.0.1:2/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: "bar_hls_zone 1024k" is too small for 2 camera(s): 



=== TEST 6: one camera at 2 Mbit/s does not fit in 1m either
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 1m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 bitrate=2m window=6;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: "bar_hls_zone 1024k" is too small for 1 camera(s): 



=== TEST 7: invalid zone size
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone lots;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid zone size "lots"



=== TEST 8: the zone is given twice
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_zone 32m;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
"bar_hls_zone" directive is duplicate



=== TEST 9: invalid camera name: a slash
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera bad/name rtsp://127.0.0.1:1/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid camera name "bad/name"



=== TEST 10: invalid camera name: a dot
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera bad.name rtsp://127.0.0.1:1/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid camera name "bad.name"



=== TEST 11: invalid camera name: 65 characters
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa rtsp://127.0.0.1:1/stream1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid camera name



=== TEST 12: unknown parameter
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:1/stream1 foo=bar;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": unknown parameter "foo=bar"



=== TEST 13: unknown transport
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 transport=sctp;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": unknown parameter "transport=sctp"



=== TEST 14: invalid value: segment
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 segment=abc;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "segment=abc"



=== TEST 15: invalid value: segment too long
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 segment=10m;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "segment=10m"



=== TEST 16: invalid value: window of one segment
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 window=1;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "window=1"



=== TEST 17: invalid value: window not a number
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 window=six;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "window=six"



=== TEST 18: invalid value: timeout too short
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 timeout=100ms;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "timeout=100ms"



=== TEST 19: invalid value: bitrate
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 bitrate=fast;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "bitrate=fast"



=== TEST 20: parts longer than segments
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 segment=1s part=1500ms;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": part must be



=== TEST 21: env: with an unset variable
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale env:BAR_HLS_TEST_UNSET;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: environment variable "BAR_HLS_TEST_UNSET" is not set



=== TEST 22: file: with a missing file
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale file:$TEST_NGINX_SERVER_ROOT/html/no-such-file;
--- config
--- must_die
--- suppress_stderr
--- error_log eval
['[emerg]', qr/\[emerg\] .*bar_hls: cannot open ".*no-such-file"/]



=== TEST 23: a camera needs a URL
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale;
--- config
--- must_die
--- suppress_stderr
--- error_log
[emerg]
invalid number of arguments in "bar_hls_camera" directive



=== TEST 24: cameras belong to the http block
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
bar_hls_camera ale rtsp://127.0.0.1:1/stream1;
--- must_die
--- suppress_stderr
--- error_log
[emerg]
"bar_hls_camera" directive is not allowed here



=== TEST 25: bar_hls takes no argument
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls on;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
invalid number of arguments in "bar_hls" directive



=== TEST 26: a zone and no camera: nginx runs, cameras are unknown
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 1m;
--- config
location /live/ {
    bar_hls;
}
--- request
GET /live/ale/index.m3u8
--- error_code: 404



=== TEST 27: URL from env:VAR
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale env:BAR_HLS_TEST_URL segment=1s;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=1 target=1
--- error_log eval
qr/bar_hls: camera "ale": pulling rtsp:\/\/\*\*\*\@127\.0\.0\.1:$ENV{TEST_NGINX_CAM_PORT}\/stream1$/
--- no_error_log
[error]
admin



=== TEST 28: URL from file:PATH, its first line without surrounding blanks
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale file:$TEST_NGINX_SERVER_ROOT/html/ale.url segment=1s;
--- user_files
>>> ale.url
 	rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1  
rtsp://wrong:wrong@127.0.0.1:1/second-line
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=1 target=1
--- error_log eval
qr/bar_hls: camera "ale": pulling rtsp:\/\/\*\*\*\@127\.0\.0\.1:$ENV{TEST_NGINX_CAM_PORT}\/stream1$/
--- no_error_log
[error]
admin



=== TEST 29: every parameter, a 64 character name
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4 rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s part=250ms window=3 transport=tcp timeout=5s bitrate=1m;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_sequence_ok('/live/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4/index.m3u8', 2, 15, 3);
--- request
GET /live/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4/index.m3u8
--- bar_playlist: min=3 max=3 target=1
--- no_error_log
[error]



=== TEST 30: an rtsps:// camera is accepted (no media here: 503)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsps://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- request
GET /live/ale/index.m3u8
--- error_code: 503
--- error_log eval
qr/bar_hls: camera "ale": pulling rtsps:\/\/\*\*\*\@127\.0\.0\.1:\d+\/stream1$/
