# bar_hls_metrics: Prometheus' text format, checked by promtool and
# scraped by a real Prometheus (Debian's package, started here on
# 127.0.0.1 with its own data directory).  The counters agree with the
# requests this test made, whichever of the two workers answered them
# (a 304 and a 206 counted as nginx's filters made them), and with what
# the camera sent; a held blocking request shows while it waits.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use File::Temp ();
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket;

my $Promtool = '/usr/bin/promtool';
my $Prometheus = '/usr/bin/prometheus';

if (!-x $Promtool || !-x $Prometheus) {
    plan skip_all => 'no prometheus (Debian package prometheus, scripts/setup)';
} else {
    plan 'no_plan';
}

log_level('info');
no_shuffle();
master_on();
workers(2);
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);
$ENV{TEST_NGINX_DEAD_PORT} = free_port();

# { "name{labels}" => value } of an exposition
sub parse_metrics {
    my ($text) = @_;
    my %m;
    for (split /\n/, $text // '') {
        next if /^#/ || !/\S/;
        my ($series, $v) = /^(\S+)\s+(\S+)$/ or next;
        $m{$series} = $v;
    }
    return \%m;
}

sub scrape { parse_metrics(http_get('/metrics')->{content}) }

sub served {
    my ($m, $kind, $code, $what) = @_;
    my $metric = ($what // 'requests') eq 'bytes' ? 'bar_hls_response_bytes_total'
                                                   : 'bar_hls_requests_total';
    return $m->{"${metric}\{camera=\"ale\",kind=\"$kind\",code=\"$code\"}"} // 0;
}

sub check_promtool {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($out, $err) = ('', '');
    my $ok = eval {
        IPC::Run::run([$Promtool, 'check', 'metrics'], '<', \$body, '>', \$out,
                      '2>', \$err, IPC::Run::timeout(30));
        1;
    };
    ok($ok && $? == 0, "$name - promtool check metrics passes") or diag("$out$err");
    is("$out$err", '', "$name - promtool has nothing to say");
}

# what the module says of the camera and the zone, on its own
sub check_gauges {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $m = parse_metrics($body);
    my $st = JSON::PP::decode_json(http_get('/live/status')->{content});
    unlike($body, qr/rtsp:|\Q$PASSWORD\E|admin/, "$name - no camera URL, user or password");
    is($m->{'bar_hls_camera_state{camera="ale",state="streaming"}'}, 1, "$name - ale: streaming");
    is($m->{'bar_hls_camera_state{camera="ale",state="backoff"}'}, 0, "$name - ale: not in backoff");
    is(scalar(grep { /^bar_hls_camera_state\{camera="ale"/ && $m->{$_} == 1 } keys %$m), 1,
       "$name - ale: in one state only");
    my ($dead) = grep { /^bar_hls_camera_state\{camera="dead",state="(backoff|connecting)"\}/
                        && $m->{$_} == 1 } keys %$m;
    ok($dead, "$name - dead: backoff or connecting");
    ok($m->{'bar_hls_camera_reconnects_total{camera="dead"}'} >= 1,
       "$name - dead: reconnects counted");
    my $since = $m->{'bar_hls_camera_state_since_seconds{camera="ale"}'};
    is($since, $st->{cameras}{ale}{since}, "$name - ale: state since, as the status says");
    like($m->{'bar_hls_camera_received_bytes_total{camera="ale"}'} // '', qr/^\d+$/,
         "$name - ale: bytes received");
    ok($m->{'bar_hls_camera_received_bytes_total{camera="ale"}'} > 50_000,
       "$name - ale: more than 50 kB received");
    # the status was read after: as many parts, or a few more
    my $dp = $st->{cameras}{ale}{parts} - $m->{'bar_hls_parts_total{camera="ale"}'};
    ok($dp >= 0 && $dp < 25, "$name - ale: parts published, as the status says ($dp more there)");
    ok($m->{'bar_hls_segments_total{camera="ale"}'} >= 2, "$name - ale: segments published");
    my $frames = $m->{'bar_hls_camera_frames_total{camera="ale"}'} // -1;
    my $parts = $m->{'bar_hls_parts_total{camera="ale"}'};
    # 25 fps in parts of 200 ms: five frames a part, give or take
    ok($frames >= 4 * $parts && $frames <= 6 * $parts + 25,
       "$name - ale: frames published ($frames in $parts parts)");
    my $age = $m->{'bar_hls_newest_part_age_seconds{camera="ale"}'};
    ok(defined $age && $age >= 0 && $age < 2, "$name - ale: newest part is recent ("
                                             . ($age // 'none') . ' s)');
    ok(!defined $m->{'bar_hls_newest_part_age_seconds{camera="dead"}'},
       "$name - dead: no newest part age");
    ok($m->{'bar_hls_stored_bytes{camera="ale"}'} > 10_000, "$name - ale: bytes stored");
    is($m->{'bar_hls_stored_bytes{camera="dead"}'}, 0, "$name - dead: nothing stored");
    is($m->{'bar_hls_held_requests{camera="ale"}'}, 0, "$name - ale: nothing held");
    is($m->{bar_hls_zone_size_bytes}, 64 * 1024 * 1024, "$name - zone size");
    # the status was read a moment later: a few parts more or less
    my $used = $m->{bar_hls_zone_used_bytes} // 0;
    ok($used > 0 && abs($used - ($st->{zone}{used} // 0)) < 1024 * 1024,
       "$name - zone used ($used), about as the status says ($st->{zone}{used})");
    like(join(' ', grep { /^bar_hls_camera_info\{camera="ale"/ } keys %$m),
         qr/codecs="avc1\.[0-9a-f]{6},mp4a\.40\.2",width="640",height="360",variant="fmp4"/,
         "$name - ale: camera info");
}

# the requests made here, counted by kind and status class, and their bytes
sub check_served {
    my ($block) = @_;
    my $name = $block->name;
    my $pl = wait_for_playlist('/live/ale/index.m3u8', 2, 10);
    my ($seg) = $pl =~ /^(seg-\d+\.m4s)$/m;
    my ($map) = $pl =~ /URI="(init-[0-9a-z]+\.mp4)"/;
    my ($part) = $pl =~ /URI="(part-\d+\.m4s)"/;
    my $m0 = scrape();
    my (%n, %bytes);
    my $get = sub {
        my ($kind, $path, %o) = @_;
        my $res = http_get($path, %o);
        my $code = substr($res->{status}, 0, 1) . 'xx';
        $n{"$kind $code"}++;
        $bytes{"$kind $code"} += length($res->{content} // '');
        return $res;
    };
    $get->(playlist => '/live/ale/index.m3u8') for 1 .. 5;
    $get->(multivariant => '/live/ale/master.m3u8');
    $get->(init => "/live/ale/$map");
    my $s = $get->(segment => "/live/ale/$seg");
    $get->(segment => "/live/ale/$seg", headers => { 'If-None-Match' => $s->{headers}{etag} });
    $get->(segment => "/live/ale/$seg", headers => { Range => 'bytes=0-99' });
    $get->(segment => "/live/ale/$seg", method => 'HEAD');
    $get->(segment => '/live/ale/seg-1.m4s');
    $get->(part => "/live/ale/$part");
    http_get('/live/nosuch/index.m3u8');
    # a worker counts a request in its log phase, just after the client
    # has the response: a scrape at once may come before that
    my $total = 0;
    $total += $_ for values %n;
    my $counted = sub {
        my ($m) = @_;
        my $sum = 0;
        $sum += $m->{$_} for grep { /^bar_hls_requests_total\{camera="ale"/ } keys %$m;
        $sum -= $m0->{$_} // 0 for grep { /^bar_hls_requests_total\{camera="ale"/ } keys %$m;
        return $sum;
    };
    my $m1 = wait_until(5, 0.1, sub { my $m = scrape(); $counted->($m) >= $total ? $m : undef })
             || scrape();
    is($n{'segment 3xx'}, 1, "$name - the conditional GET was a 304");
    is($bytes{'segment 2xx'}, length($s->{content}) + 100, "$name - a whole segment, 100 bytes of it");
    for my $k (sort keys %n) {
        my ($kind, $code) = split ' ', $k;
        is(served($m1, $kind, $code) - served($m0, $kind, $code), $n{$k},
           "$name - $kind $code: $n{$k} request(s) counted");
        is(served($m1, $kind, $code, 'bytes') - served($m0, $kind, $code, 'bytes'), $bytes{$k},
           "$name - $kind $code: $bytes{$k} bytes counted");
    }
    my $key = 'bar_hls_other_requests_total{kind="other",code="4xx"}';
    is(($m1->{$key} // 0) - ($m0->{$key} // 0), 1, "$name - the unknown camera: other, 4xx");
}

# a blocking request waits in one of the workers: every worker's scrape sees it
sub check_held {
    my ($block) = @_;
    my $name = $block->name;
    my $pl = parse_playlist(wait_for_playlist('/live/ale/index.m3u8', 2, 10));
    # the most a blocking request may ask for: 4 to 8 s ahead
    my $msn = $pl->{segments}[-1]{msn} + 2;
    my @socks;
    for (1 .. 3) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => nginx_port(),
                                      Proto => 'tcp', Timeout => 5)
            or BAIL_OUT("connect: $!");
        print $s "GET /live/ale/index.m3u8?_HLS_msn=$msn HTTP/1.0\r\nHost: x\r\n\r\n";
        push @socks, $s;
    }
    my $held = wait_until(5, 0.05, sub {
        my $v = scrape()->{'bar_hls_held_requests{camera="ale"}'} // 0;
        return $v == 3 ? $v : 0;
    });
    is($held, 3, "$name - three held requests, over both workers");
    my @seen = map { scrape()->{'bar_hls_held_requests{camera="ale"}'} } 1 .. 4;
    is_deeply(\@seen, [3, 3, 3, 3], "$name - whichever worker scrapes");
    close $_ for @socks;
    my $gone = wait_until(5, 0.05, sub {
        (scrape()->{'bar_hls_held_requests{camera="ale"}'} // -1) == 0
    });
    ok($gone, "$name - none once the clients went away");
}

sub check_prometheus {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = File::Temp::tempdir('bar-hls-prom-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $port = free_port();
    open my $fh, '>', "$dir/prometheus.yml" or die $!;
    printf $fh <<'YML', nginx_port();
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: bar_hls
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:%d']
YML
    close $fh;
    my ($out, $err) = ('', '');
    my $h = IPC::Run::start([$Prometheus, "--config.file=$dir/prometheus.yml",
                             "--storage.tsdb.path=$dir/data",
                             "--web.listen-address=127.0.0.1:$port",
                             '--web.enable-lifecycle'],
                            '<', \undef, '>', \$out, '2>', \$err);
    my $api = HTTP::Tiny->new(timeout => 5, proxy => undef, http_proxy => undef);
    my $query = sub {
        my ($q) = @_;
        my $res = $api->get("http://127.0.0.1:$port/api/v1/query?query="
                            . URI::Escape::uri_escape($q));
        my $j = $res->{success} && eval { JSON::PP::decode_json($res->{content}) };
        return $j && $j->{status} eq 'success' ? $j->{data}{result} : undef;
    };
    require URI::Escape;
    my $t0 = time;
    my $up = wait_until(60, 0.5, sub {
        $h->pump_nb;
        my $r = $query->('up{job="bar_hls"}');
        return $r && @$r && $r->[0]{value}[1] eq '1';
    });
    ok($up, sprintf("$name - Prometheus scraped nginx (up == 1 after %.1f s)", time - $t0))
        or diag($err);
    # what Prometheus stored lies between two scrapes of ours around it
    my $before = scrape()->{'bar_hls_parts_total{camera="ale"}'} // 0;
    my $parts = wait_until(20, 0.5, sub {
        my $r = $query->('bar_hls_parts_total{camera="ale"}');
        return $r && @$r && $r->[0]{value}[1] >= $before ? $r->[0]{value}[1] : undef;
    });
    my $after = scrape()->{'bar_hls_parts_total{camera="ale"}'} // 0;
    ok(defined $parts && $parts >= $before && $parts <= $after && $parts > 0,
       "$name - bar_hls_parts_total{camera=\"ale\"}: $before <= " . ($parts // 'none')
       . " <= $after");
    my $state = $query->('bar_hls_camera_state{camera="ale"} == 1');
    is($state && $state->[0]{metric}{state}, 'streaming', "$name - the state series says streaming");
    my $rate = wait_until(20, 0.5, sub {
        my $r = $query->('rate(bar_hls_parts_total{camera="ale"}[10s])');
        return $r && @$r && $r->[0]{value}[1] > 0 ? $r->[0]{value}[1] : undef;
    });
    ok(defined $rate, "$name - rate() of parts: " . ($rate // 'none'));
    my $reqs = $query->('sum by (kind) (bar_hls_requests_total{camera="ale"})');
    my %kinds = map { $_->{metric}{kind} => $_->{value}[1] } @{ $reqs || [] };
    ok($kinds{playlist} && $kinds{segment}, "$name - requests by kind: "
       . join(', ', map { "$_=$kinds{$_}" } sort keys %kinds));
    $h->signal('TERM');
    my $ok = eval { $h->finish; 1 };
    $h->kill_kill(grace => 5) unless $ok;
}

run_tests();

__DATA__

=== TEST 1: the exposition passes promtool, its gauges say what the camera and zone are
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
bar_hls_camera dead rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=1s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
location = /metrics {
    bar_hls_metrics;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
Cache-Control: no-store
--- response_body_like: ^# HELP bar_hls_
--- bar_check: promtool gauges



=== TEST 2: requests and bytes by kind and status class, summed over the workers
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=4s;
--- config
location /live/ {
    bar_hls;
}
location = /metrics {
    bar_hls_metrics;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /metrics
--- bar_check: served held promtool
--- no_error_log
[error]



=== TEST 3: a real Prometheus scrapes it
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
location = /metrics {
    bar_hls_metrics;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
BarHls::Test::http_get('/live/ale/index.m3u8');
BarHls::Test::http_get('/live/ale/seg-1.m4s');
--- request
GET /metrics
--- bar_check: prometheus
--- no_error_log
[error]
