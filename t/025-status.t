# bar_hls_status: every field of every camera, with the right types and
# values that agree with the playlists, and the zone.  Camera secrets
# (URLs from env:VAR and file:PATH, userinfo, a password repeated in the
# query string) never show in the status, the error pages or error.log.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Basic = start_camera(env => 'TEST_NGINX_BASIC_PORT', auth => 'basic',
                          password => $PASSWORD, audio => 'aac', gop => 25);
our $Plain = start_camera(env => 'TEST_NGINX_PLAIN_PORT', gop => 25);

# read by the nginx master as it parses the configuration
$ENV{BAR_HLS_TEST_STATUS_URL} = "rtsp://admin:$PASSWORD\@127.0.0.1:$Basic->{port}/stream1";

our @Fields = qw(state since last_error reconnects media_sequence segments parts
                 bytes_in owner_pid codecs width height variant segment_target_ms
                 part_target_ms zone_full url);

our $T0 = time;

sub check_fields {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $st = eval { JSON::PP::decode_json($body) };
    ok($st, "$name - the status is JSON") or return diag($body);
    is_deeply([sort keys %$st], [qw(cameras zone)], "$name - {cameras, zone}");
    is_deeply([sort keys %{ $st->{cameras} }], [qw(envcam filecam noauth ts)],
              "$name - every configured camera");
    for my $cam (sort keys %{ $st->{cameras} }) {
        my $c = $st->{cameras}{$cam};
        is_deeply([sort keys %$c], [sort @Fields], "$name - $cam: all the fields");
        like($c->{state}, qr/^(connecting|streaming|backoff|error)$/, "$name - $cam: state");
        for my $f (qw(since reconnects media_sequence segments parts bytes_in owner_pid
                      width height segment_target_ms part_target_ms)) {
            ok(defined $c->{$f} && !ref $c->{$f} && $c->{$f} =~ /^\d+$/
               && $body =~ /"$f": \d+[,}]/, "$name - $cam: $f is a number");
        }
        ok(JSON::PP::is_bool($c->{zone_full}), "$name - $cam: zone_full is true or false");
        ok(!JSON::PP::is_bool($c->{$_}) && !ref $c->{$_}, "$name - $cam: $_ is a string")
            for qw(state last_error codecs variant url);
    }
    my $z = $st->{zone};
    is($z->{size}, 64 * 1024 * 1024, "$name - zone size 64m");
    ok($z->{used} > 0 && $z->{used} + $z->{free} == $z->{size}, "$name - zone used + free = size");
}

# the status of a streaming camera agrees with its playlist
sub status_like_playlist {
    my ($name, $cam, %want) = @_;
    my ($c, $pl);
    # the two requests must see the same segments: retry a few times
    for (1 .. 20) {
        my $a = camera_status($cam);
        my $text = http_get("/live/$cam/index.m3u8")->{content};
        $c = camera_status($cam);
        $pl = parse_playlist($text);
        last if $a && $c && $pl && $a->{media_sequence} == $c->{media_sequence}
                && $a->{segments} == $c->{segments};
        sleep 0.1;
    }
    ok($c && $pl, "$name - $cam: status and playlist") or return;
    is($c->{state}, 'streaming', "$name - $cam: streaming");
    is($c->{media_sequence}, $pl->{sequence}, "$name - $cam: media_sequence is EXT-X-MEDIA-SEQUENCE");
    is($c->{segments}, scalar @{ $pl->{segments} }, "$name - $cam: segments is how many are listed");
    is($c->{last_error}, '', "$name - $cam: no last_error");
    is($c->{reconnects}, 0, "$name - $cam: no reconnect");
    is($c->{owner_pid}, nginx_master_pid(), "$name - $cam: owned by the nginx process");
    ok($c->{since} >= int($T0) - 1 && $c->{since} <= time + 1, "$name - $cam: since is when it started");
    ok($c->{bytes_in} > 50_000, "$name - $cam: bytes_in counted ($c->{bytes_in})");
    ok($c->{parts} >= $c->{segments}, "$name - $cam: parts counted ($c->{parts})");
    is($c->{zone_full}, JSON::PP::false, "$name - $cam: zone_full false");
    for my $k (sort keys %want) {
        if (ref $want{$k}) { like($c->{$k}, $want{$k}, "$name - $cam: $k") }
        else { is($c->{$k}, $want{$k}, "$name - $cam: $k is $want{$k}") }
    }
    return $c;
}

sub check_streaming {
    my ($block) = @_;
    my $name = $block->name;
    status_like_playlist($name, 'envcam', codecs => qr/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/,
                         width => 640, height => 360, variant => 'fmp4',
                         segment_target_ms => 1000, part_target_ms => 200,
                         url => qr{^rtsp://\*\*\*\@127\.0\.0\.1:$Basic->{port}/stream1$});
    status_like_playlist($name, 'noauth', codecs => qr/^avc1\.[0-9a-f]{6}$/,
                         segment_target_ms => 2000, part_target_ms => 200,
                         url => "rtsp://127.0.0.1:$Plain->{port}/stream1");
    my $c = status_like_playlist($name, 'ts', variant => 'mpegts', part_target_ms => 0,
                                 segment_target_ms => 1000);
    # bytes_in grows
    my $b0 = camera_status('noauth')->{bytes_in};
    ok(wait_status('noauth', 5, sub { $_[0]{bytes_in} > $b0 }), "$name - noauth: bytes_in grows");
}

sub check_failing {
    my ($block) = @_;
    my $name = $block->name;
    my $c = wait_status('filecam', 10, sub { $_[0]{state} eq 'error' }) || {};
    is($c->{state}, 'error', "$name - filecam (wrong password): state error");
    like($c->{last_error}, qr/^authentication failed: /, "$name - filecam: last_error");
    like($c->{url}, qr{^rtsp://\*\*\*\@127\.0\.0\.1:\d+/stream1$}, "$name - filecam: url redacted");
    is($c->{segments}, 0, "$name - filecam: no segment");
    is($c->{bytes_in}, 0, "$name - filecam: no byte in");
    is($c->{codecs} . $c->{width} . $c->{height}, '00', "$name - filecam: no codecs, no size");
    ok($c->{reconnects} >= 1, "$name - filecam: reconnects counted ($c->{reconnects})");
    my $res = http_get('/live/filecam/index.m3u8');
    is($res->{status}, 503, "$name - filecam: playlist 503");
    unlike($res->{content}, qr/\Q$PASSWORD\E|rtsp|admin/, "$name - filecam: the 503 page names no URL");
}

sub check_no_secret {
    my ($block, $body) = @_;
    my $name = $block->name;
    unlike($body, qr/\Q$PASSWORD\E/, "$name - the password is not in the status");
    unlike($body, qr/admin|wrong-pw-7/, "$name - nor the user names or the other password");
    for my $path ('/live/nosuch/index.m3u8', '/live/filecam/index.m3u8', '/live/filecam/seg-1.m4s',
                  '/live/envcam/nosuch') {
        my $res = http_get($path);
        unlike(($res->{content} // '') . join(' ', %{ $res->{headers} }),
               qr/\Q$PASSWORD\E|wrong-pw-7|admin/, "$name - $path ($res->{status}): no secret");
    }
    my @leaks = grep { /\Q$PASSWORD\E|wrong-pw-7/ } error_log_lines();
    ok(!@leaks, "$name - no password in error.log") or diag(@leaks);
}

# the password repeated in the query string: the module knows it (it
# redacts it from libav's lines), so it must not show anywhere either
sub check_query_secret {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $c = wait_status('userpw', 10, sub { $_[0]{state} ne 'connecting' }) || {};
    like($c->{url} // '', qr{^rtsp://\*\*\*\@127\.0\.0\.1:\d+/stream1}, "$name - userinfo redacted");
    unlike($body, qr/\Q$PASSWORD\E/, "$name - the password is not in the status")
        or diag("url: $c->{url}");
    my @leaks = grep { /\Q$PASSWORD\E/ } error_log_lines();
    ok(!@leaks, "$name - nor in error.log") or diag(@leaks);
}

sub check_methods {
    my ($block) = @_;
    my $name = $block->name;
    my $head = http_get('/live/status', method => 'HEAD');
    is($head->{status}, 200, "$name - HEAD: 200");
    is($head->{content} // '', '', "$name - HEAD: no body");
    is(http_get('/live/status', method => 'POST')->{status}, 405, "$name - POST: 405");
}

run_tests();

__DATA__

=== TEST 1: all the fields, with their types
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera envcam env:BAR_HLS_TEST_STATUS_URL segment=1s;
bar_hls_camera noauth rtsp://127.0.0.1:$TEST_NGINX_PLAIN_PORT/stream1;
bar_hls_camera filecam file:$TEST_NGINX_SERVER_ROOT/html/cam.url timeout=2s;
bar_hls_camera ts rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_BASIC_PORT/stream1 segment=1s part=off variant=mpegts;
--- user_files
>>> cam.url
rtsp://admin:wrong-pw-7@127.0.0.1:$TEST_NGINX_BASIC_PORT/stream1
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/envcam/index.m3u8', 2, 15);
BarHls::Test::wait_playlist_ok('/live/noauth/index.m3u8', 2, 15);
Test::More::ok(BarHls::Fault::wait_status('ts', 15, sub { $_[0]{segments} >= 2 }), 'ts lists 2 segments');
--- request
GET /live/status
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- bar_check: fields



=== TEST 2: streaming cameras: the status agrees with the playlists
--- request
GET /live/status
--- bar_check: streaming



=== TEST 3: a camera refusing its password: state error, redacted URL
--- request
GET /live/status
--- bar_check: failing



=== TEST 4: no secret in the status, the error pages or error.log
--- request
GET /live/status
--- bar_check: no_secret methods



=== TEST 5: the password also in the query string
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera userpw rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_BASIC_PORT/stream1?pw=s3cr3t-pw timeout=2s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Fault::wait_status('userpw', 10, sub { $_[0]{state} ne 'connecting' });
--- request
GET /live/status
--- bar_check: query_secret
--- no_error_log
[alert]
