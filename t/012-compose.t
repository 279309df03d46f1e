# bar_hls composes with the rest of nginx: add_header (also "always" on
# the module's errors), expires, gzip, auth_request, allow/deny, limit_req
# and access_log all apply to its responses.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Http;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);

sub segment_of {
    my ($prefix) = @_;
    my $pl = http_req('GET', "${prefix}ale/index.m3u8");
    my ($seg) = $pl->{body} =~ /^(seg-\d+\.m4s)$/m;
    return $seg // 'seg-none.m4s';
}

sub check_add_header {
    my ($block) = @_;
    my $name = $block->name;
    my $seg = segment_of('/hdr/');
    for my $f ('index.m3u8', 'init.mp4', $seg) {
        my $res = http_req('GET', "/hdr/ale/$f");
        is($res->{status}, 200, "$name - $f: 200");
        is(hdr1($res, 'X-Bar'), 'hello', "$name - $f: add_header");
        is(hdr1($res, 'X-Always'), 'yes', "$name - $f: add_header always");
        is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - $f: the module's own headers stay");
    }
    my $etag = hdr1(http_req('HEAD', "/hdr/ale/$seg"), 'ETag') // '';
    my $res = http_req('GET', "/hdr/ale/$seg", headers => ['If-None-Match' => $etag]);
    is($res->{status}, 304, "$name - 304");
    is(hdr1($res, 'X-Bar'), 'hello', "$name - 304: add_header");
    $res = http_req('GET', "/hdr/ale/$seg", headers => [Range => 'bytes=0-9']);
    is($res->{status}, 206, "$name - 206");
    is(hdr1($res, 'X-Bar'), 'hello', "$name - 206: add_header");
    for my $e (['/hdr/nosuch/index.m3u8', 404, 'GET'], ['/hdr/ale/seg-1.m4s', 404, 'GET'],
               ['/hdr/ale/index.m3u8', 405, 'POST'],
               ['/hdr/ale/index.m3u8?_HLS_msn=x', 400, 'GET']) {
        my ($path, $status, $m) = @$e;
        $res = http_req($m, $path, $m eq 'POST' ? (body => 'x') : ());
        is($res->{status}, $status, "$name - $m $path: $status");
        is(hdr1($res, 'X-Always'), 'yes', "$name - $m $path: add_header ... always");
        is(hdr1($res, 'X-Bar'), undef, "$name - $m $path: add_header without always: not on errors");
    }
}

# expires replaces the module's Cache-Control (one header, nginx's value)
# on a 200, and leaves the errors' no-store alone
sub check_expires {
    my ($block) = @_;
    my $name = $block->name;
    my $seg = segment_of('/exp/');
    for my $f ('index.m3u8', 'init.mp4', $seg) {
        my $res = http_req('GET', "/exp/ale/$f");
        is($res->{status}, 200, "$name - $f: 200");
        like(hdr1($res, 'Expires') // '', qr/ GMT$/, "$name - $f: Expires");
        is(hdr1($res, 'Cache-Control'), 'max-age=3600',
           "$name - $f: one Cache-Control, expires' max-age=3600");
    }
    my $res = http_req('GET', '/exp/nosuch/index.m3u8');
    is($res->{status}, 404, "$name - unknown camera: 404");
    is(hdr1($res, 'Cache-Control'), 'no-store', "$name - 404: still no-store");
    is(hdr1($res, 'Expires'), undef, "$name - 404: no Expires");
}

sub check_gzip {
    my ($block) = @_;
    my $name = $block->name;
    my $res = http_req('GET', '/gz/ale/index.m3u8', headers => ['Accept-Encoding' => 'gzip']);
    is($res->{status}, 200, "$name - gzip playlist: 200");
    is(hdr1($res, 'Content-Encoding'), 'gzip', "$name - gzip playlist: Content-Encoding: gzip");
    is(hdr1($res, 'Content-Type'), 'application/vnd.apple.mpegurl', "$name - gzip playlist: Content-Type");
    is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - gzip playlist: CORS");
    is(hdr1($res, 'Cache-Control'), 'public, max-age=1', "$name - gzip playlist: Cache-Control");
    like(hdr1($res, 'ETag') // '', qr/^W\/"/, "$name - gzip playlist: a weak ETag");
    my $plain = gunzip_data($res->{body});
    ok(defined $plain, "$name - gzip playlist: the body gunzips");
    ok(length($plain // '') > length $res->{body}, "$name - gzip playlist: smaller compressed ("
       . length($res->{body}) . ' < ' . length($plain // '') . ')');
    check_playlist("$name - gunzipped", $plain, min => 2, target => 2);

    $res = http_req('GET', '/gz/ale/index.m3u8');
    is(hdr1($res, 'Content-Encoding'), undef, "$name - no Accept-Encoding: not compressed");
    like($res->{body}, qr/\A#EXTM3U\n/, "$name - no Accept-Encoding: a playlist");
    # video is not in gzip_types
    my $seg = segment_of('/gz/');
    $res = http_req('GET', "/gz/ale/$seg", headers => ['Accept-Encoding' => 'gzip']);
    is($res->{status}, 200, "$name - $seg: 200");
    is(hdr1($res, 'Content-Encoding'), undef, "$name - $seg: not compressed");
    is(hdr1($res, 'Content-Length'), length $res->{body}, "$name - $seg: Content-Length");
}

sub check_auth {
    my ($block) = @_;
    my $name = $block->name;
    my $seg = segment_of('/live/');
    for my $f ('index.m3u8', $seg) {
        my $res = http_req('GET', "/auth/ale/$f");
        is($res->{status}, 401, "$name - $f without the token: 401");
        $res = http_req('GET', "/auth/ale/$f", headers => ['X-Token' => 'wrong']);
        is($res->{status}, 401, "$name - $f with a wrong token: 401");
        $res = http_req('GET', "/auth/ale/$f", headers => ['X-Token' => 'letmein']);
        is($res->{status}, 200, "$name - $f with the token: 200");
        ok(length $res->{body} > 0 && hdr1($res, 'Content-Length') == length $res->{body},
           "$name - $f with the token: the body");
    }
}

sub check_access {
    my ($block) = @_;
    my $name = $block->name;
    my $seg = segment_of('/live/');
    for my $f ('index.m3u8', 'init.mp4', $seg) {
        is(http_req('GET', "/deny/ale/$f")->{status}, 403, "$name - deny 127.0.0.1: $f 403");
        is(http_req('GET', "/allow/ale/$f")->{status}, 200, "$name - allow 127.0.0.1: $f 200");
    }
}

sub check_limit {
    my ($block) = @_;
    my $name = $block->name;
    my @status = map { http_req('GET', '/lim/ale/index.m3u8')->{status} } 1 .. 5;
    is($status[0], 200, "$name - the first request: 200 (@status)");
    is(join(' ', @status[1 .. 4]), '429 429 429 429', "$name - the next ones: 429");
    is(http_req('GET', '/live/ale/index.m3u8')->{status}, 200, "$name - not limited elsewhere");
}

sub check_log {
    my ($block) = @_;
    my $name = $block->name;
    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/bar.log";
    my $seg = segment_of('/log/');
    my $pl = http_req('GET', '/log/ale/index.m3u8');
    my $sg = http_req('GET', "/log/ale/$seg");
    my $hd = http_req('HEAD', "/log/ale/$seg");
    my $rg = http_req('GET', "/log/ale/$seg", headers => [Range => 'bytes=0-99']);
    my $nf = http_req('GET', '/log/nosuch/index.m3u8?x=1');
    my @want = ("200 " . length($pl->{body}) . ' /log/ale/index.m3u8',
                "200 " . length($sg->{body}) . " /log/ale/$seg",
                "200 0 /log/ale/$seg",
                "206 100 /log/ale/$seg",
                "404 " . length($nf->{body}) . ' /log/nosuch/index.m3u8?x=1');
    my $lines = wait_until(5, 0.1, sub {
        open my $fh, '<', $log or return;
        my @l = <$fh>;
        chomp @l;
        my %have = map { $_ => 1 } @l;
        return (grep { !$have{$_} } @want) ? undef : \@l;
    });
    ok($lines, "$name - access_log has a line for every request")
        or diag("want:\n" . join("\n", @want) . "\nhave:\n" . (BarHls::Test::slurp($log) // ''));
}

run_tests();

__DATA__

=== TEST 1: add_header, and add_header ... always on the module's errors
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;

log_format barlog '$status $body_bytes_sent $request_uri';
limit_req_zone $binary_remote_addr zone=barlim:1m rate=1r/m;
--- config
location /live/ {
    bar_hls;
}
location /hdr/ {
    bar_hls;
    add_header X-Bar hello;
    add_header X-Always yes always;
}
location /exp/ {
    bar_hls;
    expires 1h;
}
location /gz/ {
    bar_hls;
    gzip on;
    gzip_types application/vnd.apple.mpegurl;
    gzip_min_length 1;
}
location = /auth {
    internal;
    if ($http_x_token = "letmein") {
        return 204;
    }
    return 401;
}
location /auth/ {
    auth_request /auth;
    bar_hls;
}
location /deny/ {
    deny 127.0.0.1;
    bar_hls;
}
location /allow/ {
    allow 127.0.0.1;
    deny all;
    bar_hls;
}
location /lim/ {
    # no burst (burst=0 is the default; nginx refuses it written out)
    limit_req zone=barlim;
    limit_req_status 429;
    bar_hls;
}
location /log/ {
    access_log $TEST_NGINX_SERVER_ROOT/logs/bar.log barlog;
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 20);
--- request
GET /hdr/ale/index.m3u8
--- response_headers
X-Bar: hello
X-Always: yes
--- bar_check: add_header



=== TEST 2: expires
--- request
GET /exp/ale/init.mp4
--- response_headers
Cache-Control: max-age=3600
--- bar_check: expires



=== TEST 3: gzip on playlists
--- request
GET /gz/ale/index.m3u8
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- bar_check: gzip



=== TEST 4: auth_request
--- request
GET /auth/ale/index.m3u8
--- error_code: 401
--- bar_check: auth



=== TEST 5: allow / deny
--- request
GET /deny/ale/index.m3u8
--- error_code: 403
--- bar_check: access



=== TEST 6: limit_req
--- request
GET /live/ale/index.m3u8
--- bar_check: limit



=== TEST 7: access_log with a custom log_format
--- request
GET /live/ale/index.m3u8
--- bar_check: log
