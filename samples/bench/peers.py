#!/usr/bin/python3
"""OpenCV side of samples/bench/peers.sh (measurement only): one process
working through the files given, on one thread, as a user script would.

  peers.py blur OUTDIR FILE...          GaussianBlur sigma 2, PNG defaults
  peers.py thumb-reduced OUTDIR FILE... IMREAD_REDUCED_COLOR_8, JPEG q85
  peers.py thumb OUTDIR FILE...         full imread, INTER_AREA, JPEG q85
"""
import math
import os
import sys

import cv2


def main():
    mode, outdir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    cv2.setNumThreads(1)
    ksize = 2 * math.ceil(3 * 2.0) + 1
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        if mode == 'blur':
            img = cv2.imread(f, cv2.IMREAD_UNCHANGED)
            out = cv2.GaussianBlur(img, (ksize, ksize), 2.0,
                                   borderType=cv2.BORDER_REPLICATE)
            cv2.imwrite(os.path.join(outdir, stem + '.' +
                                     os.path.splitext(f)[1][1:]), out)
            continue
        if mode == 'thumb-reduced':
            img = cv2.imread(f, cv2.IMREAD_REDUCED_COLOR_8)
        else:
            img = cv2.imread(f, cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            img = cv2.resize(img, (round(w / 8), round(h / 8)),
                             interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(outdir, stem + '.jpg'), img,
                    [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == '__main__':
    main()
