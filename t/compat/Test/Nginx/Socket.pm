package Test::Nginx::Socket;

# An independent, from-scratch implementation of the subset of the
# openresty Test::Nginx::Socket data-driven test format that this project's
# t/*.t files use, written from upstream's documentation.  It contains no
# upstream code and is only put on @INC (prove -I t/compat) when the real
# Test::Nginx is not installed.
#
# Supported: the functions in @EXPORT; the sections main_config,
# post_main_config, http_config, config, server_name, log_level, user_files,
# init, request, request_eval, raw_request, more_headers, timeout, abort,
# wait, error_code, error_code_like, response_headers,
# response_headers_like, response_body, response_body_like,
# response_body_unlike, error_log, no_error_log, must_die, suppress_stderr,
# ignore_response, skip_eval, skip_nginx, plus Test::Base's ONLY/SKIP/LAST
# and filters (eval, chomp, ...); the TEST_NGINX_* variables read in
# Test/Nginx/Util.pm.  nginx always listens on 127.0.0.1 only.

use strict;
use warnings;

use Test::Base -base;
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep time);
use Test::Nginx::Util qw(:DEFAULT expand_env parse_time port_number
    nginx_version start_nginx stop_nginx nginx_running setup_server_root
    write_user_files write_config_file reset_error_log error_log_lines);

our @EXPORT = (@Test::Nginx::Util::EXPORT, qw(run_tests add_response_body_check));

our @ResponseBodyChecks;

sub add_response_body_check { push @ResponseBodyChecks, shift }

my %VersionCmp = (
    '<'  => sub { $_[0] <  $_[1] },
    '<=' => sub { $_[0] <= $_[1] },
    '>'  => sub { $_[0] >  $_[1] },
    '>=' => sub { $_[0] >= $_[1] },
);

sub run_tests {
    $ENV{TEST_NGINX_SERVER_PORT} //= $Test::Nginx::Util::ServerPort;
    nginx_version();    # bails out early if the nginx binary is unusable
    # turn fatal signals into die() so that END still stops nginx
    local @SIG{qw(INT TERM)} = (sub { die "Caught SIG$_[0]\n" }) x 2;
    my @blocks = blocks();
    @blocks = shuffle @blocks unless $Test::Nginx::Util::NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @Test::Nginx::Util::BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }
}

sub run_block {
    my ($block) = @_;
    my $name = $block->name;

    if (my ($count, $reason) = skip_spec($block)) {
        SKIP: { skip("$name - $reason", $count * repeat_each()) }
        return;
    }

    reset_error_log();
    if (defined(my $config = $block->config)) {
        stop_nginx();
        setup_server_root();
        write_user_files($block);
        write_config_file($block, expand_env($config, $name));
        return run_must_die($block) if defined $block->must_die;
        my $status = start_nginx($block);
        bail_out("$name - Cannot start nginx (status code $status): ",
                 grep /\[emerg\]/, @{ error_log_lines() || [] })
            if $status != 0;
    } elsif (!nginx_running()) {
        bail_out("$name - No '--- config' section specified and no nginx "
                 . "from a previous block is running");
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }
    for my $rep (0 .. repeat_each() - 1) {
        write_user_files($block) if $rep;
        run_request($block, $rep);
    }
}

# (subtest count, reason) when --- skip_eval or --- skip_nginx says skip.
sub skip_spec {
    my ($block) = @_;
    my $name = $block->name;
    if (defined(my $spec = $block->skip_eval)) {
        if (my ($count, $code) = $spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
            return ($count, 'skip_eval') if $skip;
        }
    }
    if (defined(my $spec = $block->skip_nginx)) {
        my ($count, $op, $major, $minor, $patch, $reason) = $spec =~
            /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*?))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        return ($count, $reason || "nginx version $op $major.$minor.$patch")
            if $VersionCmp{$op}->(nginx_version(), sprintf '%d.%03d%03d', $major, $minor, $patch);
    }
    return;
}

sub run_must_die {
    my ($block) = @_;
    my $name = $block->name;
    my $expected = $block->must_die;
    for my $rep (0 .. repeat_each() - 1) {
        my $status = start_nginx($block);
        if (looks_like_number($expected)) {
            is($expected, $status >> 8, "$name - die with the expected exit code");
        } else {
            isnt($status, 0, "$name - die as expected");
        }
        check_error_log($block, $rep);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it\n";
            stop_nginx();
        }
    }
}

sub run_request {
    my ($block, $rep) = @_;
    my $packets = build_request($block);
    my $raw = send_request($block, $packets);
    if (!defined $block->ignore_response) {
        my $head = join('', @$packets) =~ /^\s*HEAD\s/;
        my ($res, $raw_headers) = parse_response($block->name, $raw, $head);
        check_error_code($block, $res);
        check_response_headers($block, $res, $raw_headers);
        check_response_body($block, $res, $rep);
    }
    sleep $block->wait if $block->wait;
    check_error_log($block, $rep);
}

# The request as a list of packets (written one after another).
sub build_request {
    my ($block) = @_;
    my $name = $block->name;
    if (defined(my $raw = $block->raw_request)) {
        return ref $raw ? $raw : [$raw];
    }

    my $req = $block->request;
    if (defined(my $code = $block->request_eval)) {
        $req = eval $code;
        bail_out("$name - request_eval failed: $@") if $@;
    }
    bail_out("$name - only a single (string) request per block is supported")
        if ref $req;
    $req //= '';
    1 while $req =~ s/^\s*#[^\n]+\s+|^\s+//;    # leading comments
    my ($line, $body) = split /\n/, $req, 2;
    bail_out("$name - Request line should be non-empty") unless defined $line;
    my ($method, $uri, $version) = $line =~ /^(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$line\".");

    my ($more, $chunked) = ('', 0);
    for (split /\n+/, $block->more_headers // '') {
        next if /^\s*#/;
        my ($key, $val) = split /:\s*/, $_, 2;
        $val //= '';
        $chunked ||= lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $more .= "$key: $val\r\n";
    }
    $body //= '';
    if ($body ne '' && !$chunked && $more !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//g;
        $more .= 'Content-Length: ' . length($body) . "\r\n";
    }
    my $head = ($more =~ /(?:^|\n)Host:/i ? '' : "Host: $Test::Nginx::Util::ServerName\r\n")
             . ($more =~ /(?:^|\n)Connection/i ? '' : "Connection: close\r\n");
    return [sprintf "%s %s %s\r\n%s%s\r\n%s",
                    $method, $uri // '/', $version // 'HTTP/1.1', $head, $more, $body];
}

sub connect_to_nginx {
    my ($name, $timeout) = @_;
    my $port = port_number($Test::Nginx::Util::ServerPortForClient);
    my $deadline = time + $Test::Nginx::Util::MaxWait;
    while (1) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $Test::Nginx::Util::ServerAddr,
            PeerPort => $port,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        return $sock if $sock;
        if (time >= $deadline) {
            fail("$name - Can't connect to $Test::Nginx::Util::ServerAddr:$port: $! (aborted)");
            return;
        }
        sleep 0.05;
    }
}

# Sends the packets and reads until the server closes the connection, like
# upstream: a request with "Connection: keep-alive" times out.
sub send_request {
    my ($block, $packets) = @_;
    my $name = $block->name;
    my $timeout = parse_time($block->timeout) // timeout();
    my $sock = connect_to_nginx($name, $timeout) or return '';
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    local $SIG{PIPE} = 'IGNORE';

  PACKET:
    for my $data (@$packets) {
        my $off = 0;
        while ($off < length $data) {
            return timed_out($block, $sock, '') unless $sel->can_write($timeout);
            my $n = syswrite $sock, $data, length($data) - $off, $off;
            if (!defined $n) {
                next if $!{EAGAIN};
                warn "WARNING: $name - write failed: $!\n";
                last PACKET;
            }
            $off += $n;
        }
    }

    my $resp = '';
    while (1) {
        return timed_out($block, $sock, $resp) unless $sel->can_read($timeout);
        my $n = sysread $sock, my $buf, 65536;
        if (!defined $n) {
            next if $!{EAGAIN};
            warn "WARNING: $name - HTTP response read failure: $!\n";
            last;
        }
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    return $resp;
}

sub timed_out {
    my ($block, $sock, $resp) = @_;
    close $sock;
    fail('ERROR: client socket timed out - ' . $block->name) unless defined $block->abort;
    return $resp;
}

# (HTTP::Response with the decoded body, raw header block)
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /^(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code // '';
    $res->code(undef) if $code !~ /^\d+$/;
    return ($res, $raw_headers) if $code =~ /^(?:101|304)$/;

    my $body = $res->content // '';
    my $len = $res->header('Content-Length');
    if (($res->header('Transfer-Encoding') // '') eq 'chunked') {
        $res->content(decode_chunked($name, $body));
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body > $len) {
            $res->content(substr $body, 0, $len);
        } elsif (length $body < $len && !$head_req) {
            warn "WARNING: $name - response body truncated: $len expected, but got ",
                 length $body, "\n";
        }
    }
    return ($res, $raw_headers);
}

sub decode_chunked {
    my ($name, $body) = @_;
    my $decoded = '';
    while ($body =~ /\G[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
        my ($size, $pos) = (hex $1, pos $body);
        return $decoded if $size == 0;    # trailers are ignored
        last if length($body) < $pos + $size + 2
             || substr($body, $pos + $size, 2) ne "\r\n";
        $decoded .= substr $body, $pos, $size;
        pos($body) = $pos + $size + 2;
    }
    fail("$name - invalid chunked body received");
    return $decoded;
}

# Replaces the literal text "$ServerPort" / "$ServerPortForClient".
sub subst_ports {
    my ($s) = @_;
    $s =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
    return $s;
}

sub check_error_code {
    my ($block, $res) = @_;
    my $name = $block->name;
    my $code = $res->code || '';
    if (defined(my $like = $block->error_code_like)) {
        like($code, qr/$like/sm, "$name - status code ok");
    } else {
        is($code, $block->error_code // 200, "$name - status code ok");
    }
}

# "Name: value" lines (the last one wins for a repeated name; "!Name" means
# absent) in their first-seen order.
sub parse_header_spec {
    my ($spec) = @_;
    my (@names, %value);
    for (split /\n/, $spec) {
        s/^\s+|\s+$//g;
        next if $_ eq '';
        my ($key, $val) = s/^!\s*// ? ($_, undef) : split /\s*:\s*/, $_, 2;
        push @names, $key unless exists $value{$key};
        $value{$key} = $val;
    }
    return map { [$_, $value{$_}] } @names;
}

# --- response_headers_like is ignored when --- response_headers is present.
sub check_response_headers {
    my ($block, $res, $raw_headers) = @_;
    my $name = $block->name;
    if (defined(my $spec = $block->response_headers)) {
        for (parse_header_spec($spec)) {
            my ($key, $val) = @$_;
            if (defined $val) {
                is($res->header($key) // '', subst_ports($val), "$name - header $key ok");
            } else {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
            }
        }
    } elsif (defined(my $like = $block->response_headers_like)) {
        for (parse_header_spec($like)) {
            my ($key, $pat) = @$_;
            like($res->header($key) // '', qr/^$pat$/, "$name - header $key like ok");
        }
    }
}

# Only the first of response_body, response_body_like, response_body_unlike
# present is checked.
sub check_response_body {
    my ($block, $res, $rep) = @_;
    my $name = $block->name;
    my $content = $res->content;
    if (defined(my $expected = $block->response_body)) {
        my $desc = "$name - response_body - %s (repeated req $rep, req 0)";
        if (ref $expected) {
            like($content, $expected, sprintf $desc, 'like');
        } else {
            is_str($content, expand_env(subst_ports($expected), $name),
                   sprintf $desc, 'response is expected');
        }
    } elsif (defined(my $pat = $block->response_body_like // $block->response_body_unlike)) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $cmp = $type eq 'like' ? \&like : \&unlike;
        my $re = subst_ports($pat);
        (my $summary = $content // '') =~ s/\s+/ /g;
        $summary =~ s/^ | $//g;
        $cmp->($content, qr/$re/s, "$name - response_body_$type - response is expected ($summary)");
    }
    $_->($block, $content, 0, $rep, 0) for @ResponseBodyChecks;
}

# Section value as a list of patterns: text is one literal substring per
# line; with the eval filter, a qr// or an array of strings and qr//s.
sub log_patterns {
    my ($spec) = @_;
    return () unless defined $spec;
    return @$spec if ref $spec eq 'ARRAY';
    return $spec if ref $spec;
    return split /\n+/, $spec;
}

sub log_line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt_str {
    my ($s) = @_;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = error_log_lines();
    my @want = log_patterns($block->error_log);
    my @unwanted = log_patterns($block->no_error_log);
    if (!defined $lines) {
        my $why = "$Test::Nginx::Util::ErrLogFile cannot be opened: $!";
        fail(sprintf '%s - pattern "%s" cannot be checked: %s (req %d)', $name, fmt_str($_), $why, $rep)
            for @want, @unwanted;
        fail("$name - $why") unless @want || @unwanted;
        return;
    }

    for my $line (@$lines) {
        for my $pat (grep { defined && log_line_matches($line, $_) } @want) {
            pass(qq{$name - pattern "$pat" matches a line in error.log (req $rep)});
            undef $pat;
        }
    }
    fail(qq{$name - pattern "$_" should match a line in error.log (req $rep)})
        for grep defined, @want;

    my %found;
    for my $line (@$lines) {
        for my $pat (grep { log_line_matches($line, $_) } @unwanted) {
            $found{$pat} = 1;
            fail(sprintf '%s - pattern "%s" should not match any line in error.log '
                         . 'but matches line "%s" (req %d)',
                 $name, fmt_str($pat), fmt_str($line), $rep);
        }
    }
    pass(sprintf '%s - pattern "%s" does not match a line in error.log (req %d)',
         $name, fmt_str($_), $rep)
        for grep { !$found{$_} } @unwanted;

    # like upstream, surface serious nginx errors the block did not ask about
    my $asked = join "\n", log_patterns($block->error_log), @unwanted;
    for my $level (qw(alert crit emerg)) {
        next if index($asked, "[$level") >= 0;
        warn 'WARNING: ', $name, ' - ', fmt_str($_), "\n" for grep /\[$level\]/, @$lines;
    }
}

1;
