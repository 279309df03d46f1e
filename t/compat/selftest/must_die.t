# Self-test of --- must_die (also passes under upstream).
use Test::Nginx::Socket;

plan tests => repeat_each() * (4 + 4 + 2 + 2);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: unknown directive
--- config
    location = /t {
        bogus_directive_xyz on;
    }
--- request
GET /t
--- must_die
--- error_log
[emerg]
unknown directive "bogus_directive_xyz"
--- no_error_log
[alert]



=== TEST 2: exit code, stderr suppressed
--- config
    return a b c;
--- suppress_stderr
--- must_die: 1
--- error_log eval
[qr/invalid number of arguments in "return" directive/, "[emerg]"]
--- no_error_log
[alert]



=== TEST 3: a normal block after must_die blocks
--- config
    location = /t {
        return 200 "fine\n";
    }
--- request
GET /t
--- response_body
fine



=== TEST 4: a block without --- config reuses the running nginx
--- request
GET /t
--- response_body
fine
