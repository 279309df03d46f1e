# A cache in front: a second nginx with proxy_cache (standing in for a CDN
# such as Cloudflare) honouring only the origin's Cache-Control.  Many
# viewers of one segment, part or init segment cost the origin one fetch;
# 50 viewers blocked on the same LL-HLS reload cost one; the playlist
# through the edge stays fresh within its max-age, for a bounded number
# of origin fetches.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Http;
use BarHls::Fault ();
use Test::Nginx::Socket 'no_plan';

use File::Temp ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);

# the origin's server for the edge: its own access log counts the fetches
$ENV{TEST_NGINX_ORIGIN_PORT} = free_port();
my $EdgePort = free_port();
my $Clients = 50;

# ---------------------------------------------------------------- edge

my $EdgePid;
my $EdgeDir = File::Temp::tempdir('bar-hls-edge-XXXXXX', TMPDIR => 1,
                                  CLEANUP => !$ENV{BAR_HLS_TEST_KEEP});

sub start_edge {
    my $origin = $ENV{TEST_NGINX_ORIGIN_PORT};
    mkdir "$EdgeDir/$_" for qw(logs cache tmp);
    open my $fh, '>', "$EdgeDir/nginx.conf" or die "$EdgeDir/nginx.conf: $!";
    print $fh <<"EOF";
# the edge: one process in the foreground, so that its PID is ours
daemon off;
master_process off;
error_log $EdgeDir/logs/error.log info;
pid $EdgeDir/logs/nginx.pid;

events {
    worker_connections 1024;
}

http {
    access_log $EdgeDir/logs/access.log;
    client_body_temp_path $EdgeDir/tmp/body;
    proxy_temp_path $EdgeDir/tmp/proxy;
    fastcgi_temp_path $EdgeDir/tmp/fastcgi;
    uwsgi_temp_path $EdgeDir/tmp/uwsgi;
    scgi_temp_path $EdgeDir/tmp/scgi;

    proxy_cache_path $EdgeDir/cache levels=1:2 keys_zone=edge:10m
                     max_size=200m inactive=10m use_temp_path=off;

    server {
        listen 127.0.0.1:$EdgePort;

        location / {
            proxy_pass http://127.0.0.1:$origin;
            proxy_http_version 1.1;
            proxy_cache edge;
            proxy_cache_key \$uri\$is_args\$args;
            proxy_cache_lock on;
            # a blocking LL-HLS reload holds the lock until the part exists
            proxy_cache_lock_timeout 15s;
            proxy_cache_lock_age 15s;
            # no proxy_cache_valid: the origin's Cache-Control decides
            add_header X-Cache \$upstream_cache_status always;
        }
    }
}
EOF
    close $fh;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$EdgeDir/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { exec $ENV{TEST_NGINX_BINARY}, '-p', "$EdgeDir/", '-e', "$EdgeDir/logs/error.log",
               '-c', "$EdgeDir/nginx.conf" };
        POSIX::_exit(127);
    }
    $EdgePid = $pid;
    my $up = wait_until(10, 0.05, sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $EdgePort,
                                      Proto => 'tcp', Timeout => 1) or return 0;
        close $s;
        return 1;
    });
    if (!$up || $up < 0) {
        undef $EdgePid if $up;
        stop_edge();
        die "the edge nginx did not start:\n"
            . (BarHls::Test::slurp("$EdgeDir/logs/stderr.log") // '')
            . (BarHls::Test::slurp("$EdgeDir/logs/error.log") // '');
    }
    return $pid;
}

# SIGQUIT (graceful), SIGKILL after 5 s, to the edge's own PID only
sub stop_edge {
    my $pid = $EdgePid or return;
    undef $EdgePid;
    kill 'QUIT', $pid;
    my $gone = wait_until(5, 0.05, sub { waitpid($pid, WNOHANG) == $pid });
    if (!$gone) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    return $gone ? 'quit' : 'killed';
}

my $Pid = $$;
END { local $?; stop_edge() if $$ == $Pid }

start_edge();

# ------------------------------------------------------------- helpers

sub edge { http_req('GET', $_[0], port => $EdgePort, timeout => $_[1] // 10) }

# lines of the origin's edge-facing access log: [status, request_uri]
sub origin_fetches {
    my $text = BarHls::Test::slurp("$ENV{TEST_NGINX_SERVER_ROOT}/logs/origin.log") // '';
    return map { [split ' ', $_, 2] } split /\n/, $text;
}

sub count_fetches {
    my ($uri) = @_;
    return scalar grep { ($_->[1] // '') eq $uri } origin_fetches();
}

# the origin's fetch count of $uri once it settled (the log line of a
# response lands right after the response)
sub settled_count {
    my ($uri) = @_;
    wait_until(3, 0.05, sub { count_fetches($uri) > 0 });
    sleep 0.5;
    return count_fetches($uri);
}

sub tally {
    my (%n);
    $n{$_}++ for @_;
    return join ', ', map { "$_ x$n{$_}" } sort keys %n;
}

# $Clients at once through the edge for $path: all 200 (or $status),
# identical bytes; the origin fetched it once.
sub collapse_ok {
    my ($name, $path, %o) = @_;
    my $want = $o{want};
    my @res = parallel_get($path, $Clients, port => $EdgePort, timeout => $o{timeout} // 30);
    my @status = map { $_->{status} } @res;
    is(tally(@status), "200 x$Clients", "$name - $Clients clients, $path: all 200");
    my @md5 = map { md5_hex($_->{body}) } @res;
    is(tally(@md5), md5_hex($want) . " x$Clients", "$name - $path: identical bytes, the origin's")
        if defined $want;
    my @errors = grep { defined } map { $_->{error} } @res;
    is(scalar @errors, 0, "$name - $path: no client error (@errors)");
    my $cache = tally(map { hdr1($_, 'X-Cache') // 'none' } @res);
    my $n = settled_count($path);
    is($n, 1, "$name - $path: the origin saw $n fetch(es) for $Clients clients (edge: $cache)");
    $BarHls::Test::Stash{counts}{$path} = $n;
    return \@res;
}

# ---------------------------------------------------------------- checks

sub check_segment {
    my ($block, $body) = @_;
    my $name = $block->name;
    my @msns = playlist_msns($body);
    my $uri = "/live/ale/seg-$msns[-1].m4s";
    my $direct = http_get($uri);        # the test's port: not in origin.log
    is($direct->{status}, 200, "$name - $uri from the origin directly: 200");
    is(count_fetches($uri), 0, "$name - $uri: not fetched through the edge yet");
    my $res = collapse_ok($name, $uri, want => $direct->{content});
    is(hdr1($res->[0], 'Cache-Control'), 'public, max-age=18, immutable',
       "$name - $uri: the edge passes Cache-Control on");
    # and later viewers are served from the edge
    my @more = map { edge($uri) } 1 .. 5;
    is(tally(map { hdr1($_, 'X-Cache') // 'none' } @more), 'HIT x5', "$name - later: HIT");
    is(count_fetches($uri), 1, "$name - later: still one origin fetch");
}

sub check_part_init {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($map) = $body =~ /^#EXT-X-MAP:URI="([^"]+)"$/m;
    my $pl = BarHls::Fault::parse_ll($body);
    my ($seg) = grep { @{ $_->{parts} } > 3 } reverse @{ $pl->{segments} };
    my $part = $seg && $seg->{parts}[3]{uri};
    for my $f ("$map", $part // 'part-none.m4s') {
        my $uri = "/live/ale/$f";
        my $direct = http_get($uri);
        is($direct->{status}, 200, "$name - $uri from the origin directly: 200");
        collapse_ok($name, $uri, want => $direct->{content});
    }
}

# 50 viewers block on the same next part (LL-HLS blocking reload): the
# edge passes one request, which waits at the origin, and serves all
sub check_blocking {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    my $next = $pl->{segments}[-1]{msn} + 2;
    my $uri = "/live/ale/index.m3u8?_HLS_msn=$next&_HLS_part=0";
    my $t0 = time;
    my $res = collapse_ok($name, $uri, timeout => 30);
    my @seen = map { (parse_playlist($_->{body}) // {})->{segments} } @$res;
    my @bad = grep { !$_ || !@$_ } @seen;
    is(scalar @bad, 0, "$name - every client got a playlist");
    my @has = grep {
        my $p = BarHls::Fault::parse_ll($_->{body});
        my ($s) = grep { $_->{msn} == $next } @{ $p->{segments} }, $p->{open} || ();
        $s && @{ $s->{parts} };
    } @$res;
    is(scalar @has, $Clients, "$name - every one lists part 0 of seg-$next");
    is(tally(map { hdr1($_, 'Cache-Control') // 'none' } @$res), "public, max-age=12 x$Clients",
       "$name - the blocking reply: max-age 6 x target");
    Test::More::note(sprintf "%s - answered after %.1fs", $name, time - $t0);
}

# the playlist through the edge for $secs seconds: fresh within max-age +
# a margin, at most $secs / max-age + 2 origin fetches
sub check_playlist_freshness {
    my ($block) = @_;
    my $name = $block->name;
    my $secs = 8;
    my %paths = ('/live/ale/index.m3u8' => 1, '/slow/ale/index.m3u8' => 3);
    my %before = map { $_ => count_fetches($_) } keys %paths;
    my (%first, %last, %seq, %polls);
    my $t0 = time;
    for (my $i = 0; $i < 400 && time - $t0 < $secs; $i++) {
        for my $path (sort keys %paths) {
            # served between the request's start and its end: the span a
            # version was served for is at least (last start - first end),
            # however slow the answers are
            my $start = time;
            my $res = edge($path);
            my $end = time;
            next unless $res->{status} == 200;
            $polls{$path}++;
            my $pl = parse_playlist($res->{body}) or next;
            my $key = $pl->{sequence} . ' ' . md5_hex($res->{body});
            $first{$path}{$key} //= $end;
            $last{$path}{$key} = $start;
            push @{ $seq{$path} }, $pl->{sequence};
        }
        sleep 0.1;
    }
    my $elapsed = time - $t0;
    sleep 0.5;
    for my $path (sort keys %paths) {
        my $age = $paths{$path};
        my @s = @{ $seq{$path} || [] };
        ok(@s >= 10, "$name - $path: polled " . scalar(@s) . " times in ${secs}s");
        next unless @s;
        ok($s[-1] > $s[0], "$name - $path: the edge served a newer media sequence ($s[0] -> $s[-1])");
        my @back = grep { $s[$_] < $s[$_ - 1] } 1 .. $#s;
        is(scalar @back, 0, "$name - $path: never an older one after a newer");
        # one version of the playlist is served for at most max-age + 2 s
        # (nginx counts in whole seconds)
        my ($longest) = sort { $b <=> $a }
                        map { $last{$path}{$_} - $first{$path}{$_} } keys %{ $first{$path} };
        ok($longest <= $age + 2, sprintf "%s - %s: one version served for at most %.1fs (max-age %d + 2)",
                                         $name, $path, $longest, $age);
        my $n = count_fetches($path) - $before{$path};
        my $max = int($elapsed / $age) + 2;
        ok($n >= 2 && $n <= $max, sprintf '%s - %s: %d origin fetches for %d edge requests in %.1fs (2 .. %d)',
                                          $name, $path, $n, scalar(@s), $elapsed, $max);
        $BarHls::Test::Stash{counts}{$path} = "$n fetches / " . scalar(@s) . sprintf(' requests / %.1fs', $elapsed);
    }
}

sub check_stop_edge {
    my ($block) = @_;
    my $name = $block->name;
    my $how = stop_edge();
    is($how, 'quit', "$name - the edge stopped on SIGQUIT");
    my $err = BarHls::Test::slurp("$EdgeDir/logs/error.log") // '';
    my @bad = grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $err;
    is(scalar @bad, 0, "$name - the edge's error.log has no alert") or diag(join "\n", @bad);
    my $c = $BarHls::Test::Stash{counts} || {};
    Test::More::note("origin fetches: $_ => $c->{$_}") for sort keys %$c;
}

run_tests();

__DATA__

=== TEST 1: the origin serves the camera
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;

log_format fetches '$status $request_uri';

server {
    listen 127.0.0.1:$TEST_NGINX_ORIGIN_PORT;
    access_log $TEST_NGINX_SERVER_ROOT/logs/origin.log fetches;

    location /live/ {
        bar_hls;
    }
    location /slow/ {
        bar_hls;
        bar_hls_playlist_max_age 3s;
    }
}
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 3, 20);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=3 target=2



=== TEST 2: 50 clients, one segment: one origin fetch
--- request
GET /live/ale/index.m3u8
--- bar_check: segment



=== TEST 3: 50 clients, one part, one init segment: one origin fetch each
--- request
GET /live/ale/index.m3u8
--- bar_check: part_init



=== TEST 4: 50 clients blocked on the same reload: one origin fetch
--- request
GET /live/ale/index.m3u8
--- bar_check: blocking



=== TEST 5: the playlist through the edge: fresh, few origin fetches
--- request
GET /live/ale/index.m3u8
--- bar_check: playlist_freshness



=== TEST 6: stop the edge
--- request
GET /live/ale/index.m3u8
--- bar_check: stop_edge
