package BarHls::Http;

# Byte-exact HTTP for the delivery tests (t/010-*.t .. t/019-*.t): raw
# requests and responses with every repeated header kept, many requests
# in flight at once, gunzip.  Load it after BarHls::Test:
#
#     use lib 't/lib';
#     use BarHls::Test;
#     use BarHls::Http;
#     use Test::Nginx::Socket 'no_plan';
#
# 127.0.0.1 only; every read and write is bounded in time; a connection
# per request ("Connection: close"), read until the server closes it.

use strict;
use warnings;

use Exporter 'import';
use IO::Select ();
use IO::Socket::INET ();
use IO::Uncompress::Gunzip ();
use Time::HiRes qw(time);

BEGIN { require BarHls::Test }

our @EXPORT = qw(http_raw http_req hdr hdr1 parallel_get gunzip_data
                 printable_head);

# http_raw($bytes, port => N, timeout => secs, head => 1)
# Sends $bytes as they are and reads the answer until the server closes
# the connection (or $timeout seconds pass).  Returns
#   { status, reason, head (raw header block), headers => [[name, value]],
#     body (de-chunked), raw (every byte read), error (if any) }
# head => 1: a response to HEAD (no body expected).
sub http_raw {
    my ($bytes, %o) = @_;
    my $port = $o{port} // BarHls::Test::nginx_port();
    my $timeout = $o{timeout} // 5;
    my %res = (status => 0, headers => [], body => '', raw => '', head => '');
    my $deadline = time + $timeout;

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                     Proto => 'tcp', Timeout => $timeout);
    if (!$sock) {
        $res{error} = "connect 127.0.0.1:$port: $!";
        return \%res;
    }
    local $SIG{PIPE} = 'IGNORE';
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $bytes) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_write($left)) {
            $res{error} = 'write timed out';
            last;
        }
        my $n = syswrite $sock, $bytes, length($bytes) - $off, $off;
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            $res{error} = "write: $!";      # the server may have answered
            last;
        }
        $off += $n;
    }
    my $raw = '';
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            $res{error} //= 'read timed out';
            last;
        }
        my $n = sysread $sock, my $buf, 65536;
        if (!defined $n) {
            next if $!{EAGAIN} || $!{EINTR};
            $res{error} //= "read: $!";
            last;
        }
        last if $n == 0;
        $raw .= $buf;
    }
    close $sock;
    return parse_response($raw, \%res, $o{head});
}

sub parse_response {
    my ($raw, $res, $head_req) = @_;
    $res->{raw} = $raw;
    my $end = index $raw, "\r\n\r\n";
    return $res if $end < 0;
    my $head = substr $raw, 0, $end;
    my $body = substr $raw, $end + 4;
    $res->{head} = $head;
    my ($line, @lines) = split /\r\n/, $head;
    if ($line =~ m{^HTTP/1\.[01] (\d{3})(?: (.*))?$}) {
        @$res{qw(status reason)} = ($1, $2 // '');
    }
    for (@lines) {
        my ($k, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*$/s or next;
        push @{ $res->{headers} }, [$k, $v];
    }
    if ($head_req || $res->{status} == 304 || $res->{status} == 204) {
        $res->{trailing} = $body;
        $body = '';
    } elsif (lc(hdr1($res, 'Transfer-Encoding') // '') eq 'chunked') {
        $body = dechunk($body, $res);
    }
    $res->{body} = $body;
    return $res;
}

sub dechunk {
    my ($data, $res) = @_;
    my $out = '';
    while ($data =~ /\G([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
        my ($size, $pos) = (hex $1, pos $data);
        return $out if $size == 0;
        if (length($data) < $pos + $size + 2) {
            $res->{error} //= 'truncated chunk';
            return $out;
        }
        $out .= substr $data, $pos, $size;
        pos($data) = $pos + $size + 2;
    }
    $res->{error} //= 'bad chunked body';
    return $out;
}

# http_req($method, $path, headers => [Name => value, ...], body => ...,
#          port => N, timeout => secs)
sub http_req {
    my ($method, $path, %o) = @_;
    my @h = @{ $o{headers} || [] };
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    while (my ($k, $v) = splice @h, 0, 2) {
        $req .= "$k: $v\r\n";
    }
    if (defined $o{body}) {
        $req .= 'Content-Length: ' . length($o{body}) . "\r\n";
    }
    $req .= "\r\n" . ($o{body} // '');
    my $res = http_raw($req, port => $o{port}, timeout => $o{timeout},
                       head => $method eq 'HEAD');
    BarHls::Checker::test_response(BarHls::Test::nginx_url($path, $o{port}),
                                   $res->{status}, $res->{body})
        if $method eq 'GET';
    return $res;
}

# Every value of header $name (case-insensitive), in order.
sub hdr {
    my ($res, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name } @{ $res->{headers} };
}

# The value of header $name when it is there exactly once; else undef
# (absent) or all values joined by " | " (so that an is() shows them).
sub hdr1 {
    my @v = hdr(@_);
    return @v <= 1 ? $v[0] : join ' | ', @v;
}

# The header block with every byte that is not printable ASCII (or TAB)
# shown as \xNN: equal to the raw header block when it is clean.
sub printable_head {
    my ($res) = @_;
    (my $h = $res->{head}) =~ s/([^\x20-\x7e\t\r\n])/sprintf '\\x%02x', ord $1/ge;
    return $h;
}

# parallel_get($path, $n, port => N, timeout => secs, headers => [...])
# Opens $n connections, then sends one GET on each, all before reading
# any answer; reads them all.  Returns the $n responses (http_raw's form).
sub parallel_get {
    my ($path, $n, %o) = @_;
    my $port = $o{port} // BarHls::Test::nginx_port();
    my $timeout = $o{timeout} // 20;
    my $deadline = time + $timeout;
    my @h = @{ $o{headers} || [] };
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    while (my ($k, $v) = splice @h, 0, 2) {
        $req .= "$k: $v\r\n";
    }
    $req .= "\r\n";

    local $SIG{PIPE} = 'IGNORE';
    my (@conns, %by_fd);
    for my $i (0 .. $n - 1) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 5);
        my %c = (i => $i, sock => $s, raw => '', done => !$s,
                 error => $s ? undef : "connect: $!");
        push @conns, \%c;
        next unless $s;
        $s->blocking(0);
        $by_fd{ fileno $s } = \%c;
    }
    # the requests are small: each goes out in one write
    for my $c (grep { !$_->{done} } @conns) {
        my $w = syswrite $c->{sock}, $req;
        if (!defined $w || $w != length $req) {
            $c->{error} = 'short write';
            $c->{done} = 1;
            close $c->{sock};
        }
    }
    my $sel = IO::Select->new(map { $_->{sock} } grep { !$_->{done} } @conns);
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            my $c = $by_fd{ fileno $s };
            my $r = sysread $s, my $buf, 65536;
            next if !defined $r && ($!{EAGAIN} || $!{EINTR});
            if (!$r) {
                $c->{error} = "read: $!" unless defined $r;
                $c->{done} = 1;
                $sel->remove($s);
                close $s;
                next;
            }
            $c->{raw} .= $buf;
        }
    }
    my @res;
    for my $c (@conns) {
        if (!$c->{done}) {
            $c->{error} //= 'read timed out';
            $sel->remove($c->{sock});
            close $c->{sock};
        }
        my %r = (status => 0, headers => [], body => '', raw => '', head => '');
        $r{error} = $c->{error} if defined $c->{error};
        push @res, parse_response($c->{raw}, \%r);
    }
    BarHls::Checker::test_response(BarHls::Test::nginx_url($path, $port),
                                   $_->{status}, $_->{body}, stateless => 1) for @res;
    return @res;
}

sub gunzip_data {
    my ($data) = @_;
    my $out;
    IO::Uncompress::Gunzip::gunzip(\$data => \$out) or return;
    return $out;
}

1;
