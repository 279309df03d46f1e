# CORS: bar_hls_allow_origin * (default), off and an origin list; the
# headers on every response, errors included; preflight OPTIONS; 405 with
# Allow for other methods; invalid origins in nginx.conf.
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

# nothing listens there: that camera never gets media (503)
$ENV{TEST_NGINX_DEAD_PORT} = free_port();
# a server with allow_origin off at server level
$ENV{TEST_NGINX_BAR_PORT2} = free_port();

my $Expose = 'Content-Length, Content-Range, Age, Date, ETag';
my $Methods = 'GET, HEAD, OPTIONS';

# the files of camera ale: playlist, init, init-<crc>, a segment, a part
# (dies when the playlist does not name them all: no made-up names)
sub files {
    my $res = http_req('GET', '/live/ale/index.m3u8');
    my ($map) = $res->{body} =~ /^#EXT-X-MAP:URI="([^"]+)"$/m;
    my ($seg) = $res->{body} =~ /^(seg-\d+\.m4s)$/m;
    my ($part) = $res->{body} =~ /^#EXT-X-PART:.*URI="(part-\d+\.m4s)"/m;
    die "t/011: the playlist names no init, segment or part: $res->{status} $res->{body}\n"
        unless defined $map && defined $seg && defined $part;
    return ('index.m3u8', 'init.mp4', $map, $seg, $part);
}

# error responses of the module under $prefix: [path, status, method]
sub errors {
    my ($prefix) = @_;
    return (["${prefix}nosuch/index.m3u8", 404, 'GET'],
            ["${prefix}ale/nosuch.txt", 404, 'GET'],
            ["${prefix}ale/seg-1.m4s", 404, 'GET'],
            ["${prefix}ale/index.m3u8?_HLS_msn=abc", 400, 'GET'],
            ["${prefix}dead/index.m3u8", 503, 'GET'],
            ["${prefix}dead/init.mp4", 503, 'HEAD'],
            ["${prefix}ale/index.m3u8", 405, 'POST'],
            ["${prefix}ale/init.mp4", 405, 'DELETE']);
}

sub req {
    my ($method, $path, @h) = @_;
    return http_req($method, $path, headers => \@h,
                    $method =~ /^(?:POST|PUT|PATCH)$/ ? (body => 'x') : ());
}

# --- default: Access-Control-Allow-Origin: * everywhere, no Vary
sub check_star {
    my ($block) = @_;
    my $name = $block->name;
    for my $f (files()) {
        for my $origin (undef, 'https://anywhere.example') {
            my $res = req('GET', "/live/ale/$f", defined $origin ? (Origin => $origin) : ());
            my $w = "$f" . (defined $origin ? " (Origin: $origin)" : '');
            is($res->{status}, 200, "$name - $w: 200");
            is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - $w: ACAO *");
            is(hdr1($res, 'Access-Control-Expose-Headers'), $Expose, "$name - $w: Expose-Headers");
            is(scalar(hdr($res, 'Vary')), 0, "$name - $w: no Vary");
            is(scalar(hdr($res, 'Access-Control-Allow-Credentials')), 0,
               "$name - $w: no Allow-Credentials with *");
        }
    }
    for my $e (errors('/live/')) {
        my ($path, $status, $method) = @$e;
        my $res = req($method, $path, Origin => 'https://anywhere.example');
        my $w = "$method $path";
        is($res->{status}, $status, "$name - $w: $status");
        is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - $w: ACAO *");
        is(hdr1($res, 'Access-Control-Expose-Headers'), $Expose, "$name - $w: Expose-Headers");
        is(hdr1($res, 'Cache-Control'), 'no-store', "$name - $w: Cache-Control: no-store");
        is(hdr1($res, 'Content-Type'), 'text/plain', "$name - $w: text/plain");
        is(hdr1($res, 'Allow'), $Methods, "$name - $w: Allow") if $status == 405;
        is(hdr1($res, 'Retry-After'), '1', "$name - $w: Retry-After: 1") if $status == 503;
        if ($method eq 'HEAD') {
            is($res->{trailing}, '', "$name - $w: no body");
        } else {
            ok(length $res->{body} && $res->{body} !~ /</, "$name - $w: a text body ($res->{body})");
            is(hdr1($res, 'Content-Length'), length $res->{body}, "$name - $w: Content-Length");
        }
    }
}

# --- off: no CORS header at all
sub check_off {
    my ($block) = @_;
    my $name = $block->name;
    for my $e ((map { ["/off/ale/$_", 200, 'GET'] } files()), errors('/off/')) {
        my ($path, $status, $method) = @$e;
        my $res = req($method, $path, Origin => 'https://anywhere.example');
        is($res->{status}, $status, "$name - $method $path: $status");
        my @cors = grep { $_->[0] =~ /^Access-Control-/i } @{ $res->{headers} };
        is(scalar @cors, 0, "$name - $path: no Access-Control-* header")
            or diag(join "\n", map { "$_->[0]: $_->[1]" } @cors);
        is(scalar(hdr($res, 'Vary')), 0, "$name - $path: no Vary");
    }
    # off at server level, inherited
    my $res = http_req('GET', '/live/ale/index.m3u8', port => $ENV{TEST_NGINX_BAR_PORT2},
                       headers => [Origin => 'https://anywhere.example']);
    is($res->{status}, 200, "$name - server-level off: 200");
    is(scalar(grep { $_->[0] =~ /^Access-Control-/i } @{ $res->{headers} }), 0,
       "$name - server-level off: no Access-Control-* header");
    # and * again in a location below it
    $res = http_req('GET', '/star/ale/index.m3u8', port => $ENV{TEST_NGINX_BAR_PORT2},
                    headers => [Origin => 'https://anywhere.example']);
    is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - * below server-level off");
}

# --- a list: the request's Origin echoed when listed, Vary: Origin always
sub check_list {
    my ($block) = @_;
    my $name = $block->name;
    my @yes = ('https://bar.example', 'http://localhost:8080');
    my @no = ('https://evil.example', 'https://bar.example.evil.example',
              'https://bar.exampl', 'http://bar.example', 'https://bar.example:443',
              'null', '*', '');
    for my $f (files()) {
        my $path = "/list/ale/$f";
        for my $origin (@yes) {
            my $res = req('GET', $path, Origin => $origin);
            is($res->{status}, 200, "$name - $f from $origin: 200");
            is(hdr1($res, 'Access-Control-Allow-Origin'), $origin, "$name - $f from $origin: echoed");
            is(hdr1($res, 'Access-Control-Expose-Headers'), $Expose,
               "$name - $f from $origin: Expose-Headers");
            is(hdr1($res, 'Vary'), 'Origin', "$name - $f from $origin: Vary: Origin");
        }
        for my $origin (@no) {
            my $res = req('GET', $path, Origin => $origin);
            is($res->{status}, 200, "$name - $f from '$origin': 200");
            is(hdr1($res, 'Access-Control-Allow-Origin'), undef,
               "$name - $f from '$origin': no ACAO");
            is(hdr1($res, 'Vary'), 'Origin', "$name - $f from '$origin': Vary: Origin");
        }
        my $res = req('GET', $path);
        is(hdr1($res, 'Access-Control-Allow-Origin'), undef, "$name - $f without Origin: no ACAO");
        is(hdr1($res, 'Vary'), 'Origin', "$name - $f without Origin: Vary: Origin");
    }
    for my $e (errors('/list/')) {
        my ($path, $status, $method) = @$e;
        my $res = req($method, $path, Origin => $yes[0]);
        is($res->{status}, $status, "$name - $method $path from $yes[0]: $status");
        is(hdr1($res, 'Access-Control-Allow-Origin'), $yes[0], "$name - $method $path: echoed");
        is(hdr1($res, 'Vary'), 'Origin', "$name - $method $path: Vary: Origin");
        $res = req($method, $path, Origin => $no[0]);
        is(hdr1($res, 'Access-Control-Allow-Origin'), undef, "$name - $method $path from $no[0]: no ACAO");
    }
    # a 304 and a 206 keep them too
    my (undef, undef, undef, $seg) = files();
    my $etag = hdr1(req('HEAD', "/list/ale/$seg"), 'ETag') // '';
    my $res = req('GET', "/list/ale/$seg", Origin => $yes[0], 'If-None-Match' => $etag);
    is($res->{status}, 304, "$name - 304");
    is(hdr1($res, 'Access-Control-Allow-Origin'), $yes[0], "$name - 304: echoed");
    is(hdr1($res, 'Vary'), 'Origin', "$name - 304: Vary: Origin");
    $res = req('GET', "/list/ale/$seg", Origin => $yes[0], Range => 'bytes=0-9');
    is($res->{status}, 206, "$name - 206");
    is(hdr1($res, 'Access-Control-Allow-Origin'), $yes[0], "$name - 206: echoed");
}

# --- preflight
sub preflight_ok {
    my ($name, $path, $origin, $acao, $vary) = @_;
    my $res = req('OPTIONS', $path, Origin => $origin,
                  'Access-Control-Request-Method' => 'GET',
                  'Access-Control-Request-Headers' => 'range');
    my $w = "OPTIONS $path from $origin";
    is($res->{status}, 204, "$name - $w: 204");
    is($res->{trailing}, '', "$name - $w: no body");
    is(hdr1($res, 'Allow'), $Methods, "$name - $w: Allow");
    is(hdr1($res, 'Vary'), $vary, "$name - $w: Vary") if defined $vary;
    if (!defined $acao) {
        my @cors = grep { $_->[0] =~ /^Access-Control-/i } @{ $res->{headers} };
        is(scalar @cors, 0, "$name - $w: no Access-Control-* header");
        return;
    }
    is(hdr1($res, 'Access-Control-Allow-Origin'), $acao, "$name - $w: ACAO $acao");
    is(hdr1($res, 'Access-Control-Allow-Methods'), $Methods, "$name - $w: Allow-Methods");
    my @allowed = map { lc } split /\s*,\s*/, hdr1($res, 'Access-Control-Allow-Headers') // '';
    ok((grep { $_ eq 'range' } @allowed), "$name - $w: Allow-Headers has Range (@allowed)");
    is(hdr1($res, 'Access-Control-Max-Age'), 86400, "$name - $w: Max-Age 86400");
}

sub check_preflight {
    my ($block) = @_;
    my $name = $block->name;
    my (undef, undef, undef, $seg) = files();
    for my $f ('index.m3u8', $seg, 'init.mp4') {
        preflight_ok($name, "/live/ale/$f", 'https://anywhere.example', '*');
        preflight_ok($name, "/list/ale/$f", 'https://bar.example', 'https://bar.example', 'Origin');
        preflight_ok($name, "/list/ale/$f", 'https://evil.example', undef, 'Origin');
        preflight_ok($name, "/off/ale/$f", 'https://anywhere.example', undef);
    }
    # a player may preflight the blocking reload too
    preflight_ok($name, '/live/ale/index.m3u8?_HLS_msn=1&_HLS_part=0',
                 'https://anywhere.example', '*');
}

# --- other methods: 405 with Allow, no body read into the reply
sub check_methods {
    my ($block) = @_;
    my $name = $block->name;
    my (undef, undef, undef, $seg) = files();
    for my $m (qw(POST PUT DELETE PATCH PROPFIND)) {
        for my $path ('/live/ale/index.m3u8', "/live/ale/$seg", '/live/nosuch/init.mp4') {
            my $res = req($m, $path);
            is($res->{status}, 405, "$name - $m $path: 405");
            is(hdr1($res, 'Allow'), $Methods, "$name - $m $path: Allow: $Methods");
            is(hdr1($res, 'Access-Control-Allow-Origin'), '*', "$name - $m $path: CORS");
            is(hdr1($res, 'Cache-Control'), 'no-store', "$name - $m $path: no-store");
        }
    }
    # and the stream is still served after all of that
    is(req('GET', "/live/ale/$seg")->{status}, 200, "$name - $seg: still 200");
}

run_tests();

__DATA__

=== TEST 1: default (*): on media, playlists and every error
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
bar_hls_camera dead rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1;

server {
    listen 127.0.0.1:$TEST_NGINX_BAR_PORT2;
    bar_hls_allow_origin off;

    location /live/ {
        bar_hls;
    }
    location /star/ {
        bar_hls;
        bar_hls_allow_origin *;
    }
}
--- config
location /live/ {
    bar_hls;
}
location /off/ {
    bar_hls;
    bar_hls_allow_origin off;
}
location /list/ {
    bar_hls;
    bar_hls_allow_origin https://bar.example http://localhost:8080;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 20);
--- request
GET /live/ale/index.m3u8
--- more_headers
Origin: https://anywhere.example
--- response_headers
Access-Control-Allow-Origin: *
Access-Control-Expose-Headers: Content-Length, Content-Range, Age, Date, ETag
!Vary
--- bar_check: star



=== TEST 2: off
--- request
GET /off/ale/index.m3u8
--- more_headers
Origin: https://anywhere.example
--- response_headers
!Access-Control-Allow-Origin
!Access-Control-Expose-Headers
--- bar_check: off



=== TEST 3: an origin list
--- request
GET /list/ale/index.m3u8
--- more_headers
Origin: https://bar.example
--- response_headers
Access-Control-Allow-Origin: https://bar.example
Vary: Origin
--- bar_check: list



=== TEST 4: preflight OPTIONS
--- request
OPTIONS /live/ale/index.m3u8
--- more_headers
Origin: https://anywhere.example
Access-Control-Request-Method: GET
Access-Control-Request-Headers: range
--- error_code: 204
--- response_headers
Allow: GET, HEAD, OPTIONS
Access-Control-Allow-Origin: *
Access-Control-Allow-Methods: GET, HEAD, OPTIONS
Access-Control-Max-Age: 86400
--- bar_check: preflight



=== TEST 5: POST, PUT, DELETE, PATCH, PROPFIND: 405 with Allow
--- request
POST /live/ale/index.m3u8
hello
--- error_code: 405
--- response_headers
Allow: GET, HEAD, OPTIONS
Access-Control-Allow-Origin: *
Cache-Control: no-store
--- bar_check: methods



=== TEST 6: an origin needs a scheme
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin example.org;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid origin "example.org"



=== TEST 7: an origin has no path: trailing slash
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin https://x.org/;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid origin "https://x.org/"



=== TEST 8: an origin has no path: a path
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin https://bar.example https://x.org/live;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid origin "https://x.org/live"



=== TEST 9: a scheme and nothing else is no origin
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin https://;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid origin "https://"



=== TEST 10: off takes no origins
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin off https://bar.example;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: invalid origin "off"



=== TEST 11: duplicate directive
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
--- config
location /live/ {
    bar_hls;
    bar_hls_allow_origin *;
    bar_hls_allow_origin https://bar.example;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
"bar_hls_allow_origin" directive is duplicate
