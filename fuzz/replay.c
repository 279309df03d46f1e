
/*
 * main() for the fuzz targets without libFuzzer: runs every file given on
 * the command line through LLVMFuzzerTestOneInput() once.  make test
 * replays the committed corpora with it, under ASan and UBSan.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
main(int argc, char **argv)
{
    int       i;
    long      n;
    FILE     *f;
    uint8_t  *data;

    for (i = 1; i < argc; i++) {
        f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }

        if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
            || fseek(f, 0, SEEK_SET) != 0)
        {
            perror(argv[i]);
            return 1;
        }

        data = malloc(n ? n : 1);
        if (data == NULL || fread(data, 1, n, f) != (size_t) n) {
            fprintf(stderr, "%s: read failed\n", argv[i]);
            return 1;
        }

        fclose(f);

        LLVMFuzzerTestOneInput(data, n);
        free(data);
    }

    printf("%s: replayed %d inputs\n", argv[0], argc - 1);

    return 0;
}
