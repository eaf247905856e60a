// SPDX-License-Identifier: MIT
/* The pacs command-line tool (subcommands are added per feature). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: pacs COMMAND [ARGS]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "pacs: unknown command '%s'\n", argv[1]);
    return 2;
}
