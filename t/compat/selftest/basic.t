# Self-test of the compat Test::Nginx::Socket (also passes under upstream).
use Test::Nginx::Socket 'no_plan';

repeat_each(2);

run_tests();

__DATA__

=== TEST 1: plain response, headers present and absent
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
Content-Type: text/plain
X-Foo: bar
!X-Missing
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: status code, header regex, body regex
--- config
    location = /t {
        add_header X-Foo bar always;
        return 404;
    }
--- request
GET /t
--- error_code: 404
--- response_headers_like
X-Foo: b.r
--- response_body_like: 404 Not Found



=== TEST 3: HEAD has no body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
HEAD /t
--- response_headers
Content-Length: 6
--- response_body eval
""



=== TEST 4: request body, more_headers, comments before the request line
--- config
    location = /t {
        return 200 "len=$http_content_length foo=$http_x_foo\n";
    }
--- more_headers
X-Foo: abc
--- request
# a comment
POST /t
hello
--- response_body
len=5 foo=abc



=== TEST 5: raw request, HTTP/1.0
--- config
    location = /t {
        return 200 "$server_protocol\n";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
HTTP/1.0



=== TEST 6: bad request
--- config
--- raw_request eval
"FOO BAR BAZ QUX\r\n\r\n"
--- error_code: 400
--- response_body_like: 400 Bad Request
--- error_log
client sent invalid request



=== TEST 7: user_files, $TEST_NGINX_* expansion in config and response_body
--- config
    location = /f {
        alias $TEST_NGINX_SERVER_ROOT/html/sub/blah.txt;
    }
--- user_files
>>> sub/blah.txt
port $TEST_NGINX_SERVER_PORT
--- request
GET /f
--- response_body
port $TEST_NGINX_SERVER_PORT



=== TEST 8: error_log with literal and qr// patterns; no_error_log
--- config
--- request
GET /nonexistent.html
--- error_code: 404
--- error_log eval
["No such file or directory", qr/open\(\) "[^"]+nonexistent\.html" failed/]
--- no_error_log
[alert]
[crit]



=== TEST 9: main_config, post_main_config, http_config, server_name, log_level
--- main_config
worker_rlimit_nofile 1024;
--- post_main_config
pcre_jit off;
--- http_config
    map $uri $answer {
        default  42;
    }
--- server_name: example.test
--- log_level: warn
--- config
    location = /t {
        return 200 "$answer $server_name\n";
    }
--- request
GET /t
--- response_body
42 example.test
--- no_error_log
[debug]
[info]



=== TEST 10: init runs after nginx started, before the request; wait
--- init
my $file = Test::Nginx::Util::html_dir() . '/init.txt';
open my $out, '>', $file or die "$file: $!";
print $out "written by init\n";
close $out;
--- config
--- request
GET /init.txt
--- wait: 0.1
--- response_body
written by init



=== TEST 11: skip_eval skips the given number of subtests
--- skip_eval: 2: 1
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
never checked



=== TEST 12: skip_nginx
--- skip_nginx: 2: < 999.0.0
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
never checked



=== TEST 13: client timeout with --- abort
--- config
    location = /t {
        return 200 "ok\n";
    }
--- more_headers
Connection: keep-alive
--- request
GET /t
--- timeout: 300ms
--- abort
--- ignore_response



=== TEST 14: chunked response, eval'd response_body, load_module in main_config
--- skip_eval: 2: !-f '/usr/lib/nginx/modules/ngx_http_echo_module.so'
--- main_config
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
--- config
    location = /t {
        echo_read_request_body;
        echo "got: $request_body";
        echo_flush;
        echo "bye";
    }
--- request
POST /t
a b c
--- response_body eval
"got: a b c\nbye\n"
--- response_headers
Transfer-Encoding: chunked
