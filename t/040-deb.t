# The Debian package end to end: `make deb` builds libnginx-mod-http-bar-hls,
# `apt-get install ./...deb` installs it, the system's /usr/sbin/nginx
# loads the module through /etc/nginx/modules-enabled/ (no load_module of
# ours) and streams a fake camera with the example the package installs
# for /etc/nginx/conf.d/, then `apt-get purge` leaves no file behind.
#
# Not in Test::Nginx block format: what it tests is a package's life on the
# machine (build, install, purge) around one nginx, not requests to an
# nginx that Test::Nginx configures.
#
# It changes the machine, so it is careful:
#   - it needs root; outside CI a machine that cannot run it (not root, no
#     apt) skips it, with CI=true that is a failure;
#   - it takes a lock, so that two runs (two worktrees) never meet, and
#     refuses to run where the package is already installed: that one is
#     not ours to purge;
#   - policy-rc.d keeps the package scripts from starting or reloading any
#     service (installing a module triggers nginx's "reload if running");
#   - its nginx has its own prefix, pid file, error log and temp paths and
#     listens on 127.0.0.1, on a free port; it is stopped by its PID.  A
#     system nginx is never signalled.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::More;

use Config ();
use Fcntl qw(:flock);
use File::Path ();
use File::Temp ();
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $PKG       = 'libnginx-mod-http-bar-hls';
my $NGINX     = '/usr/sbin/nginx';
my $SO        = '/usr/lib/nginx/modules/ngx_http_bar_hls_module.so';
my $AVAILABLE = '/usr/share/nginx/modules-available/mod-http-bar-hls.conf';
my $ENABLED   = '/etc/nginx/modules-enabled/50-mod-http-bar-hls.conf';
my $EXAMPLE   = "/usr/share/doc/$PKG/examples/bar-hls.conf";
my $POLICY    = '/usr/sbin/policy-rc.d';
my $LOCK      = (-d '/run/lock' ? '/run/lock' : '/tmp') . '/bar-hls-deb-test.lock';
my $CI        = ($ENV{CI} // '') eq 'true';

my $root = repo_root();
my $tmp = File::Temp::tempdir('bar-hls-deb-XXXXXX', TMPDIR => 1,
                              CLEANUP => !$ENV{BAR_HLS_TEST_KEEP});
my ($lock_fh, $created_policy, $installed, $purged, $nginx_pid);

# Cannot run here: a skip on a developer's machine, a failure in CI.
sub unable {
    my ($why) = @_;
    if ($CI) {
        fail("the Debian package test can run (CI=true): $why");
        done_testing();
        exit 1;
    }
    plan skip_all => $why;
}

# Cannot go on: this file fails, the rest of the suite runs (END cleans up).
sub give_up {
    my ($why) = @_;
    fail($why);
    done_testing();
    exit 1;
}

# (exit code, stdout + stderr) of @cmd, killed after $timeout seconds;
# the output also goes to $tmp/$log.
sub run {
    my ($log, $timeout, @cmd) = @_;
    my $out = '';
    my $ok = eval {
        IPC::Run::run(\@cmd, '<', \undef, '>&', \$out,
                      IPC::Run::timeout($timeout));
        1;
    };
    my $rc = $ok ? $? >> 8 : -1;
    $out .= "\n(killed after ${timeout}s: $@)" unless $ok;
    if (open my $fh, '>', "$tmp/$log") {
        print $fh $out;
        close $fh;
    }
    return ($rc, $out);
}

sub tail_of {
    my ($text, $n) = @_;
    my @l = split /\n/, $text // '';
    splice @l, 0, @l - $n if @l > $n;
    return join "\n", @l;
}

sub slurp_file {
    my ($path) = @_;
    open my $fh, '<', $path or return;
    local $/;
    return scalar <$fh>;
}

sub pkg_status {
    my ($rc, $out) = run('dpkg-query.log', 30, 'dpkg-query', '-W',
                         '-f=${db:Status-Status}', $PKG);
    return $rc == 0 && $out =~ /^(\S+)/ ? $1 : 'not-installed';
}

sub apt_get {
    my ($log, @args) = @_;
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    # other engineers' apt-get may hold the lock for a while
    return run($log, 900, 'apt-get', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600',
               @args);
}

sub stop_nginx {
    my $pid = $nginx_pid or return;
    undef $nginx_pid;
    kill 'QUIT', $pid;          # graceful: workers end their camera sessions
    my $gone = wait_until(10, 0.05, sub { waitpid($pid, WNOHANG) == $pid });
    if (!$gone) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    return $gone;
}

sub purge {
    $purged = 1;
    return apt_get('purge.log', 'purge', $PKG);
}

END {
    my $status = $?;
    stop_nginx();
    if ($installed && !$purged) {
        my ($rc, $out) = purge();
        print STDERR "040-deb: purge after a failure: exit $rc\n",
                     tail_of($out, 10), "\n" if $rc;
    }
    unlink $POLICY if $created_policy;
    close $lock_fh if $lock_fh;
    $? = $status;
}

# ------------------------------------------------------------ can we run

unable('needs root: it installs and purges a package') if $> != 0;
for my $tool ('/usr/bin/apt-get', '/usr/bin/dpkg', '/usr/bin/dpkg-query',
              $NGINX) {
    unable("$tool is missing (a Debian machine with nginx: scripts/setup)")
        unless -x $tool;
}

open $lock_fh, '>>', $LOCK or unable("cannot open $LOCK: $!");
my $t_lock = time;
my $locked = wait_until(900, 0.5, sub { flock $lock_fh, LOCK_EX | LOCK_NB });
unable("another run of this test held $LOCK for 900 s") unless $locked;
diag sprintf 'measure: waited %.1fs for %s', time - $t_lock, $LOCK
    if time - $t_lock > 1;

my $before = pkg_status();
if ($before ne 'not-installed' || -l $ENABLED || -e $ENABLED) {
    unable("$PKG is already on this machine ($before): not ours to purge;"
           . " apt-get purge $PKG to run this test");
}

# ---------------------------------------------------------------- build

my $t0 = time;
my ($rc, $out);
{
    # a clean make: not the jobserver or flags of a make that runs us
    local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL)};
    ($rc, $out) = run('make-deb.log', 1200, 'make', '-C', $root, 'deb');
}
my $t_build = time - $t0;
is($rc, 0, sprintf('make deb (%.0fs)', $t_build))
    or diag(tail_of($out, 40));
my ($deb) = $out =~ /^deb: (\S+\.deb)$/m;
ok($deb && -f "$root/$deb", "make deb names the package it built ("
   . ($deb // 'none') . ')')
    or give_up('no package to install');
$deb = "$root/$deb";
like($out, qr/^lintian /m, 'make deb ran lintian (no error, no warning)');

my $arch = `dpkg --print-architecture`;
chomp $arch;
my ($version) = $deb =~ /\Q${PKG}\E_([^_]+)_\Q$arch\E\.deb$/;
my $chl = slurp_file("$root/debian/changelog") // '';
ok($version && $chl =~ /\A\Q$PKG\E \(\Q$version\E\)/,
   "the package's version is debian/changelog's (" . ($version // '?') . ')');

# the nginx ABI the package depends on is the one the installed nginx
# provides (nginx-abi-1.22.1-7 on Debian 12); libav* from shlibs
my %f;
for my $field (qw(Package Depends)) {
    ($rc, $f{$field}) = run('dpkg-deb.log', 30, 'dpkg-deb', '-f', $deb, $field);
    chomp $f{$field};
}
is($f{Package}, $PKG, "dpkg-deb -f: Package $PKG");
($rc, my $provides) = run('nginx-provides.log', 30, 'dpkg-query', '-W',
                          '-f=${Provides}', 'nginx');
my ($abi) = $provides =~ /\b(nginx-abi-[\w.+~-]+)/;
ok($abi && $f{Depends} =~ /(?:^|, )\Q$abi\E(?:,|$)/,
   'Depends on ' . ($abi // 'the ABI of the installed nginx')
   . " (Depends: $f{Depends})");
like($f{Depends}, qr/\blibavformat\d+ \(>= [^)]+\)/, 'Depends on libavformat (shlibs)');
like($f{Depends}, qr/\blibavcodec\d+ \(>= [^)]+\)/, 'Depends on libavcodec (shlibs)');

# -------------------------------------------------------------- install

if (!-e $POLICY) {
    open my $fh, '>', $POLICY or give_up("$POLICY: $!");
    print $fh "#!/bin/sh\n# written by t/040-deb.t: start no service\nexit 101\n";
    close $fh;
    chmod 0755, $POLICY;
    $created_policy = 1;
}

$t0 = time;
$installed = 1;
($rc, $out) = apt_get('install.log', 'install', '--no-install-recommends', $deb);
my $t_install = time - $t0;
is($rc, 0, sprintf('apt-get install %s (%.1fs)', $deb =~ s{.*/}{./}r, $t_install))
    or diag(tail_of($out, 30));
is(pkg_status(), 'installed', "dpkg: $PKG is installed")
    or give_up('not installed');

($rc, $out) = run('dpkg-L.log', 30, 'dpkg', '-L', $PKG);
my @files = grep { m{^/} && $_ ne '/.' } split /\n/, $out;
ok(-f $SO, "the module is in nginx's module directory: $SO");
ok((grep { $_ eq $SO } @files), 'dpkg -L lists it');
is(slurp_file($AVAILABLE), "load_module modules/ngx_http_bar_hls_module.so;\n",
   "$AVAILABLE loads it");
is(readlink($ENABLED), $AVAILABLE, "$ENABLED enables it (a symlink, as dh_nginx makes)");
ok(-f $EXAMPLE, "the example is installed as documentation: $EXAMPLE");

# ------------------------------------------------- nginx, fake camera

my $cam = start_camera(auth => 'digest', password => $PASSWORD,
                       audio => 'aac', size => '640x360', gop => 25);

my $prefix = "$tmp/prefix";
File::Path::make_path("$prefix/conf.d", "$prefix/tmp");
# Debian's load_module lines say modules/...: relative to nginx's prefix,
# which is /usr/share/nginx for the system's nginx, where "modules" is this
# same link
symlink '/usr/lib/nginx/modules', "$prefix/modules"
    or give_up("symlink $prefix/modules: $!");

# the camera's URL, password included, in a file only root reads
my $url_file = "$prefix/door.url";
open my $ufh, '>', $url_file or give_up("$url_file: $!");
chmod 0600, $url_file;
print $ufh "rtsp://admin:$PASSWORD\@127.0.0.1:$cam->{port}/stream1\n";
close $ufh;

# the installed example as a user would use it, its port and URL file
# swapped for ours
my $port = nginx_port();
my $example = slurp_file($EXAMPLE) // '';
my $n_listen = $example =~ s/^(\s*listen\s+)127\.0\.0\.1:8080;/${1}127.0.0.1:$port;/mg;
my $n_url = $example =~ s{file:/etc/nginx/bar-hls/door\.url}{file:$url_file}g;
is($n_listen, 1, 'the example listens on 127.0.0.1:8080 (swapped for a free port)');
is($n_url, 1, 'the example reads camera "door" from file:/etc/nginx/bar-hls/door.url');
unlike($example, qr/^\s*load_module/m, 'the example has no load_module');
open my $efh, '>', "$prefix/conf.d/bar-hls.conf" or give_up("$prefix/conf.d: $!");
print $efh $example;
close $efh;

my $conf = "$prefix/nginx.conf";
open my $cfh, '>', $conf or give_up("$conf: $!");
print $cfh <<"EOF";
# as Debian's /etc/nginx/nginx.conf: the module comes from modules-enabled
include /etc/nginx/modules-enabled/*.conf;

worker_processes 2;
daemon off;
pid $prefix/nginx.pid;
error_log $prefix/error.log info;

events {
    worker_connections 256;
}

http {
    access_log $prefix/access.log;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;

    # as Debian's nginx.conf includes /etc/nginx/conf.d/*.conf
    include $prefix/conf.d/*.conf;
}
EOF
close $cfh;

my @nginx = ($NGINX, '-p', "$prefix/", '-c', $conf, '-e', "$prefix/error.log");

($rc, $out) = run('nginx-t.log', 30, @nginx, '-t');
is($rc, 0, 'nginx -t: the module loads through /etc/nginx/modules-enabled/')
    or diag($out);

$t0 = time;
my $pid = fork;
give_up("fork: $!") unless defined $pid;
if ($pid == 0) {
    # nginx gets SIGTERM should this test die without its END block
    # (prctl(PR_SET_PDEATHSIG, SIGTERM), as BarHls::Test does for cameras)
    my $prctl = $Config::Config{archname} =~ /^x86_64-linux/ ? 157
              : $Config::Config{archname} =~ /^aarch64-linux/ ? 167 : undef;
    syscall($prctl, 1, 15) if defined $prctl;
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$tmp/nginx.out";
    open STDERR, '>&', \*STDOUT;
    { exec @nginx };
    POSIX::_exit(127);
}
$nginx_pid = $pid;

my $listening = wait_until(10, 0.05, sub {
    return -1 if waitpid($pid, WNOHANG) == $pid;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 0.5);
    return $s ? 1 : 0;
});
if (!$listening || $listening < 0) {
    undef $nginx_pid if $listening && $listening < 0;
    diag(slurp_file("$prefix/error.log") // '', slurp_file("$tmp/nginx.out") // '');
    give_up("the system's nginx did not listen on 127.0.0.1:$port");
}
pass("the system's nginx listens on 127.0.0.1:$port, pid $pid");
is(slurp_file("$prefix/nginx.pid") // '', "$pid\n", "its own pid file: $prefix/nginx.pid");

my $dir = '/live/door';
my $pl = wait_for_playlist("$dir/index.m3u8", 2, 30);
my $t_playlist = time - $t0;
ok($pl, sprintf('%s/index.m3u8 lists 2 segments %.1fs after nginx started',
                $dir, $t_playlist))
    or diag("last seen: $BarHls::Test::LastStatus");
my $parsed = check_playlist('installed module', $pl // '', min => 2, target => 2);

my ($seg) = $parsed ? reverse @{ $parsed->{segments} } : ();
SKIP: {
    skip 'no segment listed', 8 unless $seg;
    my $p = probe_segment($dir, $seg->{map}, $seg->{uri});
    is($p->{init_status}, 200, "$seg->{map}: 200");
    is($p->{status}, 200, "$seg->{uri}: 200");
    is($p->{rc}, 0, "ffprobe reads $seg->{map} + $seg->{uri}") or diag($p->{err});
    my ($v) = grep { $_->{codec_type} eq 'video' } @{ $p->{streams} };
    my ($a) = grep { $_->{codec_type} eq 'audio' } @{ $p->{streams} };
    is(join('x', map { $v->{$_} // '?' } qw(codec_name width height)), 'h264x640x360',
       'the segment has the H.264 640x360 video the camera sends');
    is($a && $a->{codec_name}, 'aac', 'and its AAC audio');
    # 25 fps: a segment of EXTINF seconds has about EXTINF x 25 frames
    my $frames = $p->{video} // 0;
    ok(abs($frames - $seg->{duration} * 25) <= 2,
       "$frames video frames for EXTINF $seg->{duration} at 25 fps");
    ok(($p->{audio} // 0) > 0, 'audio packets: ' . ($p->{audio} // 0));
    is($p->{first_key}, 1, 'the segment starts with a keyframe');
}

my $status = http_get('/live/status');
my $json = eval { JSON::PP::decode_json($status->{content}) } || {};
is($json->{cameras}{door}{state}, 'streaming', '/live/status: camera "door" is streaming');

stop_nginx();
my $log = slurp_file("$prefix/error.log") // '';
like($log, qr/bar_hls: camera "door": streaming 640x360/, 'error.log: camera "door" streaming');
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'error.log: no [alert], [crit] or [emerg]')
    or diag(join "\n", grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $log);
ok(index($log, $PASSWORD) < 0 && index($status->{content} // '', $PASSWORD) < 0,
   "the camera's password is neither in error.log nor in /live/status");

# ---------------------------------------------------------------- purge

$t0 = time;
($rc, $out) = purge();
my $t_purge = time - $t0;
is($rc, 0, sprintf('apt-get purge %s (%.1fs)', $PKG, $t_purge)) or diag(tail_of($out, 30));
is(pkg_status(), 'not-installed', "dpkg: $PKG is gone, configuration included");

# every file dpkg -L listed is gone; a directory may stay only while
# another package owns it
my @left;
for my $path (@files, $ENABLED, "$ENABLED.removed") {
    if (-l $path || (-e $path && !-d $path)) {
        push @left, $path;
    } elsif (-d $path) {
        my ($owned) = run('dpkg-S.log', 30, 'dpkg-query', '-S', $path);
        push @left, "$path/ (no package owns it)" if $owned != 0;
    }
}
is_deeply(\@left, [], sprintf('nothing of the package is left (%d paths of dpkg -L checked)',
                              scalar @files))
    or diag(join "\n", @left);

($rc, $out) = run('nginx-t-after.log', 30, @nginx, '-t');
like($out, qr/unknown directive "bar_hls_zone"/,
     'after the purge the same nginx.conf no longer loads the module');

diag sprintf 'measure: make deb %.1fs, apt-get install %.1fs, nginx start to'
           . ' 2 segments %.1fs, apt-get purge %.1fs',
     $t_build, $t_install, $t_playlist, $t_purge;

done_testing();
