package Test::Nginx::Util;

# Settings, nginx.conf generation and nginx process management for the
# project's stand-in Test::Nginx::Socket (see Socket.pm next to this file).
# Independent implementation; only used when upstream Test::Nginx is absent.

use strict;
use warnings;

use Carp ();
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IPC::Run ();
use POSIX qw(SIGKILL SIGQUIT);
use Test::LongString ();
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    repeat_each master_on master_off workers worker_connections log_level
    no_shuffle no_long_string no_root_location env_to_nginx
    add_block_preprocessor check_accum_error_log timeout server_port
    server_port_for_client html_dir server_root bail_out is_str
);
our @EXPORT_OK = qw(
    expand_env parse_time port_number nginx_version start_nginx stop_nginx
    nginx_running setup_server_root write_user_files write_config_file
    reset_error_log error_log_lines
);

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $RepeatEach           = 1;
our $NoRootLocation       = 0;
our $NoLongString         = 0;
our @EnvToNginx;
our @BlockPreprocessors;

our $ServRoot   = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $HtmlDir    = "$ServRoot/html";
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

# Upper bound, in seconds, of every wait on nginx (start, stop, connect).
our $MaxWait = 5;

my $ErrLogPos = 0;
my $StartedNginx;
my $NginxV;

# Getters/setters of the test file API.
sub repeat_each            { $RepeatEach = shift if @_; $RepeatEach }
sub workers                { $Workers = shift if @_; $Workers }
sub worker_connections     { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level              { $LogLevel = shift if @_; $LogLevel }
sub timeout                { $Timeout = shift if @_; $Timeout }
sub server_port            { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client { $ServerPortForClient = shift if @_; $ServerPortForClient }
sub master_on              { $MasterProcessEnabled = 'on' }
sub master_off             { $MasterProcessEnabled = 'off' }
sub no_shuffle             { $NoShuffle = 1 }
sub no_long_string         { $NoLongString = 1 }
sub no_root_location       { $NoRootLocation = 1 }
sub check_accum_error_log  { $CheckAccumErrLog = 1 }
sub html_dir               { $HtmlDir }
sub server_root            { $ServRoot }
sub add_block_preprocessor { unshift @BlockPreprocessors, shift }

sub env_to_nginx {
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# Aborts the whole test run; the END block below stops nginx.
sub bail_out { Test::More::BAIL_OUT(join '', @_) }

sub is_str {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc) if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# "500ms" -> 0.5, "2s" and "2" -> 2.
sub parse_time {
    my ($t) = @_;
    return $t if !defined $t || $t !~ /^\s*([\d.]+)\s*(ms|s)?\s*$/;
    return ($2 // '') eq 'ms' ? $1 / 1000 : $1;
}

# TEST_NGINX_SERVER_PORT may be "ADDR:PORT" (the way to make upstream
# Test::Nginx listen on loopback only); we always use 127.0.0.1 anyway.
sub port_number { $_[0] =~ /(\d+)$/ ? $1 : bail_out("bad port number: $_[0]") }

sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        $ENV{$1} // bail_out("$name - No environment $1 defined.\n")
    }ge;
    return $text;
}

sub nginx_v {
    return $NginxV //= do {
        my $out;
        eval {
            IPC::Run::run([$NginxBinary, '-V'], '<', \undef, '>&', \$out,
                          IPC::Run::timeout($MaxWait));
        } or bail_out("Failed to run \"$NginxBinary -V\": ", $@ || $out // "");
        $out;
    };
}

# nginx version as a comparable number: 1.22.1 -> 1.022001.
sub nginx_version {
    nginx_v() =~ m{nginx version: [^/]+/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to parse the output of \"$NginxBinary -V\"");
    return sprintf '%d.%03d%03d', $1, $2, $3;
}

sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $res = $cond->();
        return $res if $res || time >= $deadline;
        sleep 0.02;
    }
}

sub alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    # A daemonised nginx is not our child: a zombie counts as gone.
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    return (<$fh> // '') !~ /\) Z /;
}

# PID from our pid file, if that process is alive and runs our nginx.conf
# (guards against a stale pid file whose PID now belongs to someone else).
sub nginx_running {
    open my $fh, '<', $PidFile or return;
    my ($pid) = (<$fh> // '') =~ /^(\d+)/ or return;
    return unless alive($pid);
    if (open my $cmd, '<', "/proc/$pid/cmdline") {
        return unless do { local $/; <$cmd> } =~ /\Q$ConfFile\E/;
    }
    return $pid;
}

sub stop_nginx {
    my $pid = nginx_running() or return;
    kill SIGQUIT, $pid;
    return if wait_for($MaxWait, sub { !alive($pid) });
    warn "WARNING: nginx $pid did not quit within ${MaxWait}s; killing it\n";
    # daemon mode makes the master a process group leader: take the workers too
    kill SIGKILL, getpgrp($pid) == $pid ? -$pid : $pid;
    wait_for($MaxWait, sub { !alive($pid) }) or bail_out("Cannot kill nginx $pid");
}

# Runs the nginx binary (which daemonises) and returns its wait status.
sub start_nginx {
    my ($block) = @_;
    my @cmd = ($NginxBinary, '-e', $ErrLogFile, '-p', "$ServRoot/", '-c', $ConfFile);
    my @stderr = defined $block->suppress_stderr ? ('2>', '/dev/null') : ();
    eval {
        IPC::Run::run(\@cmd, '<', \undef, '>', '/dev/null', @stderr,
                      IPC::Run::timeout($MaxWait));
        1;
    } or bail_out($block->name, " - failed to run \"@cmd\": $@");
    my $status = $?;
    if ($status == 0) {
        $StartedNginx = 1;
        wait_for($MaxWait, \&nginx_running)
            or bail_out($block->name, " - nginx did not write $PidFile");
    }
    return $status;
}

sub setup_server_root {
    remove_tree($ConfDir, $LogDir, $HtmlDir, "$ServRoot/cache",
                glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
    make_path($ConfDir, $LogDir, $HtmlDir);
    write_file("$HtmlDir/index.html",
        '<html><head><title>It works!</title></head><body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out or bail_out("Can't write $path: $!");
}

# --- user_files: ">>> NAME [MTIME]" headed text, or (eval) [[NAME, BODY, MTIME], ...]
sub write_user_files {
    my ($block) = @_;
    my $files = $block->user_files // return;
    my $name = $block->name;
    if (!ref $files) {
        my @parsed;
        for (split /^/, $files) {
            if (/>>> (\S+)(?:\s+(.+))?/) { push @parsed, [$1, '', $2] }
            elsif (@parsed)              { $parsed[-1][1] .= $_ }
        }
        $files = \@parsed;
    }
    for (@$files) {
        my ($fname, $body, $mtime) = @$_;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        make_path($1) if $path =~ m{(.*)/} && !-d $1;
        write_file($path, expand_env($body // '', $name));
        next unless $mtime;
        local $ENV{TZ} = 'GMT';
        system('touch', '-t', $mtime, $path) == 0
            or bail_out("$name - failed to set the mtime of $path");
    }
}

sub write_config_file {
    my ($block, $config) = @_;
    my $name = $block->name;
    my ($main, $http, $post_main) =
        map { expand_env($block->$_ // '', $name) } qw(main_config http_config post_main_config);
    $main = join '', (map "load_module $_;\n", split ' ', $LoadModules), $main;
    my $level = $block->log_level || $LogLevel;
    my $server_name = $block->server_name // $ServerName;
    my $port = port_number($ServerPort);
    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;
    my $temp_paths = join '',
        map { "    ${_}_temp_path $ServRoot/${_}_temp;\n" }
        grep { nginx_v() !~ /--without-http_${_}_module/ && $http !~ /\b${_}_temp_path\b/ }
        qw(client_body proxy fastcgi scgi uwsgi);
    my $root = $NoRootLocation ? '' : <<"EOC";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
EOC
    my $user = $> == 0 ? "user root;\n" : '';

    write_file($ConfFile, <<"EOC");
worker_processes  $Workers;
daemon on;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $level;
pid       $PidFile;
$env
$main

http {
    access_log $AccLogFile;
$temp_paths
    default_type text/plain;
    keepalive_timeout  68000ms;

$http
    server {
        listen          $ServerAddr:$port;
        server_name     '$server_name';
        client_max_body_size 30M;

        # Begin test case config...
$config
        # End test case config.

$root    }
}

$post_main

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
$user
EOC
}

sub reset_error_log { $ErrLogPos = 0 }

# error.log lines written since the previous call (all of them with
# check_accum_error_log), or undef (with the reason in $!) when the log
# cannot be read: then every --- error_log and --- no_error_log pattern
# fails (upstream lets --- no_error_log pass then; stricter here).
sub error_log_lines {
    sleep $TestNginxSleep * 3;    # the log phase runs after the response
    open my $in, '<', $ErrLogFile or return undef;
    seek $in, $ErrLogPos, 0 unless $CheckAccumErrLog;
    my @lines = <$in>;
    $ErrLogPos = tell $in unless $CheckAccumErrLog;
    return \@lines;
}

END {
    local $?;
    stop_nginx() if $StartedNginx && !$ENV{TEST_NGINX_NO_CLEAN};
}

1;
