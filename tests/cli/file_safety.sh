#!/usr/bin/env bash
# End-to-end test: no command removes, truncates or replaces a file it did not create, every
# file a command reads is protected from its outputs, a full disk ends every rank with one line
# (no hang, no partial file, no half-written model), and tfidf works with more ranks than files.
#
#     bash tests/cli/file_safety.sh /path/to/lloyd
#
# The disk-full cases mount small tmpfs file systems and need root; elsewhere they are skipped
# with a message.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lib_init "$@"

GOOD=$BAD/good.h5
W=$TMP/work
mkdir -p "$W"

# unchanged NAME FILE COPY: FILE still exists, byte-identical to COPY.
unchanged() {
  if [ ! -e "$2" ]; then fail "$1" "$2 was removed"
  elif ! cmp -s "$2" "$3"; then fail "$1" "$2 was modified"
  else pass "$1"; fi
}

# ---- --checkpoint never takes or removes a file lloyd did not write for this fit
cp "$GOOD" "$W/in.h5"; cp "$GOOD" "$W/in.copy"
echo "field notes, irreplaceable" >"$W/notes.txt"; cp "$W/notes.txt" "$W/notes.copy"
for np in 1 2 3 4; do
  expect_error checkpoint_is_input.np$np "$np" "$W/out.h5" "checkpoint" "exists" -- \
    fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/in.h5" --output "$W/out.h5"
  unchanged checkpoint_is_input.np$np.data_kept "$W/in.h5" "$W/in.copy"
done
expect_error checkpoint_is_input_resumed 2 "$W/out.h5" "checkpoint" -- \
  fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/in.h5" --resume --output "$W/out.h5"
unchanged checkpoint_is_input_resumed.data_kept "$W/in.h5" "$W/in.copy"
expect_error checkpoint_unrelated 2 "$W/out.h5" "checkpoint" "exists" "--resume" -- \
  fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/notes.txt" --output "$W/out.h5"
unchanged checkpoint_unrelated.kept "$W/notes.txt" "$W/notes.copy"
expect_error checkpoint_unrelated_resumed 2 "$W/out.h5" "checkpoint" -- \
  fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/notes.txt" --resume --output "$W/out.h5"
unchanged checkpoint_unrelated_resumed.kept "$W/notes.txt" "$W/notes.copy"
expect_error checkpoint_device 2 "$W/out.h5" "checkpoint" "character device" -- \
  fit --input "$W/in.h5:/X" --k 3 --checkpoint /dev/null --resume --output "$W/out.h5"
check checkpoint_device.still_a_device "/dev/null is no longer a character device" test -c /dev/null
expect_error checkpoint_is_output 2 "$W/out.h5" "same file" -- \
  fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/out.h5" --output "$W/out.h5"
# A checkpoint directory that does not exist is found at the start, not at the first write.
expect_error checkpoint_missing_directory 2 "$W/out.h5" "checkpoint directory" "does not exist" -- \
  fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/no/such/dir/ck.h5" --output "$W/out.h5"
# ---- a rank killed outright (SIGKILL, as mpirun does to the others once one rank died of a
# signal) leaves no partial output and no reserve: every rank's signal handler removes both.
# Here rank 1 gets SIGTERM and rank 0 (the creator of OUTPUT.reserve-PID) SIGKILL.
mkdir -p "$W/killed"
mpi killed.data 2 60 generate --output "$W/killed_in.h5" --samples 20000 --features 4 --centers 3
killed_tag="$TAG-killed"
env "LLOYD_CLI_TEST_TAG=$killed_tag" $LLOYD_MPIRUN -n 2 "$LLOYD" fit --input "$W/killed_in.h5:/X" --k 3 \
  --mode minibatch --batch-size 10 --max-iter 100000000 --max-no-improvement 0 \
  --output "$W/killed/model.h5" >"$W/killed.out" 2>"$W/killed.err" </dev/null &
killed_launcher=$!
rank0=""
for _ in $(seq 200); do
  partial=$(ls "$W/killed" 2>/dev/null | sed -n 's/^model\.h5\.partial-\([0-9]*\)$/\1/p')
  [ -n "$partial" ] && { rank0=$partial; break; }
  sleep 0.1
done
others=()
for environ in /proc/[0-9]*/environ; do
  pid=${environ#/proc/}; pid=${pid%/environ}
  [ "$pid" = "$rank0" ] && continue
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = lloyd ] || continue
  tr '\0' '\n' <"$environ" 2>/dev/null | grep -qx "LLOYD_CLI_TEST_TAG=$killed_tag" && others+=("$pid")
done
if [ -z "$rank0" ] || [ "${#others[@]}" -ne 1 ]; then
  fail killed_rank.setup "could not find the two ranks (rank 0: '${rank0}', others: ${others[*]:-none})" "$W/killed.err"
else
  kill -TERM "${others[0]}"
  sleep 0.5
  kill -KILL "$rank0" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$killed_launcher" 2>/dev/null || break; sleep 0.1; done
  check killed_rank.no_partial_or_reserve "left behind: $(ls "$W/killed")" [ -z "$(ls "$W/killed")" ]
fi
kill -KILL "$killed_launcher" 2>/dev/null
wait "$killed_launcher" 2>/dev/null

if [ "$(id -u)" -ne 0 ]; then
  mkdir -p "$W/readonly"; chmod a-w "$W/readonly"
  expect_error checkpoint_unwritable_directory 2 "$W/out.h5" "checkpoint directory" "not writable" -- \
    fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/readonly/ck.h5" --output "$W/out.h5"
fi

# A finished fit removes the checkpoint it wrote itself, after the model is written.
mpi own_checkpoint_removed 2 60 fit --input "$W/in.h5:/X" --k 3 --checkpoint "$W/ck.h5" \
  --checkpoint-every 1 --output "$W/model.h5"
check_ran_ok own_checkpoint_removed.ran
check own_checkpoint_removed.model "no model written" h5_is_model "$W/model.h5"
check own_checkpoint_removed.gone "the fit's own checkpoint is left" test ! -e "$W/ck.h5"

# ---- --force replaces regular files only
mkfifo "$W/fifo"
mkdir -p "$W/adir"
ln -s "$W/notes.txt" "$W/link.h5"
expect_error force_device 2 "" "character device" -- \
  fit --input "$W/in.h5:/X" --k 3 --output /dev/null --force
check force_device.still_a_device "/dev/null is no longer a character device" test -c /dev/null
expect_error force_fifo 2 "" "FIFO" -- fit --input "$W/in.h5:/X" --k 3 --output "$W/fifo" --force
check force_fifo.still_a_fifo "the FIFO was replaced" test -p "$W/fifo"
expect_error force_directory 2 "" "directory" -- fit --input "$W/in.h5:/X" --k 3 --output "$W/adir" --force
expect_error force_symlink 2 "" "symbolic link" -- fit --input "$W/in.h5:/X" --k 3 --output "$W/link.h5" --force
check force_symlink.still_a_link "the symbolic link was replaced" test -L "$W/link.h5"
unchanged force_symlink.target_kept "$W/notes.txt" "$W/notes.copy"
expect_error generate_force_device 2 "" "character device" -- \
  generate --output /dev/null --samples 10 --features 2 --centers 2 --force
expect_error predict_force_fifo 2 "" "FIFO" -- \
  predict --model "$W/model.h5" --input "$W/in.h5:/X" --output "$W/fifo" --force
check predict_force_fifo.still_a_fifo "the FIFO was replaced" test -p "$W/fifo"

# ---- every input is protected, also under another name
ln "$W/in.h5" "$W/hardlink.h5"
expect_error output_is_hard_link_of_input 2 "$W/hardlink.h5" "also an input" -- \
  fit --input "$W/in.h5:/X" --k 3 --output "$W/hardlink.h5" --force
expect_error output_is_init_file 2 "$W/in.h5" "also an input" -- \
  fit --input "$GOOD:/X" --k 4 --init "$W/in.h5:/init_ok" --output "$W/in.h5" --force
expect_error predict_output_is_model 2 "$W/model.h5" "also an input" -- \
  predict --model "$W/model.h5" --input "$W/in.h5:/X" --output "$W/model.h5" --force

mkdir -p "$W/corpus"
printf 'alpha beta gamma\n' >"$W/corpus/a.txt"
printf 'beta gamma delta\n' >"$W/corpus/b.txt"
cp "$W/corpus/a.txt" "$W/a.copy"
printf 'the\nof\n' >"$W/stop.txt"; cp "$W/stop.txt" "$W/stop.copy"
expect_error tfidf_output_is_stop_words 2 "$W/stop.txt" "also an input" -- \
  tfidf --input "$W/corpus" --stop-words "$W/stop.txt" --output "$W/stop.txt" --force
unchanged tfidf_output_is_stop_words.kept "$W/stop.txt" "$W/stop.copy"
expect_error tfidf_output_is_corpus_document 2 "$W/corpus/a.txt" "inside the input directory" -- \
  tfidf --input "$W/corpus" --output "$W/corpus/a.txt" --force
unchanged tfidf_output_is_corpus_document.kept "$W/corpus/a.txt" "$W/a.copy"
expect_error tfidf_output_in_corpus 2 "$W/corpus/new.h5" "inside the input directory" -- \
  tfidf --input "$W/corpus" --output "$W/corpus/new.h5"

# ---- tfidf with more ranks than files (this hung: 1 file on 2 ranks, 2 on 3, 3 on 4)
for files in 1 2 3; do
  dir=$W/few$files
  mkdir -p "$dir"
  for f in $(seq 1 $files); do printf 'term%s shared words here\n' "$f" >"$dir/doc$f.txt"; done
  mpi tfidf_few_files.$files.np1 1 60 tfidf --input "$dir" --output "$W/few$files.np1.h5"
  check_ran_ok tfidf_few_files.$files.np1
  for np in $(printf '%s\n' $((files + 1)) 4 | sort -u); do
    mpi tfidf_few_files.$files.np$np "$np" 60 tfidf --input "$dir" --output "$W/few$files.np$np.h5"
    check_ran_ok tfidf_few_files.$files.np$np
    check_h5_identical tfidf_few_files.$files.np$np.same_as_np1 "$W/few$files.np1.h5" "$W/few$files.np$np.h5"
  done
  check_eq tfidf_few_files.$files.names "$(h5_dims "$W/few$files.np4.h5" /document_names)" "$files"
done
check tfidf_few_files.no_partials "partial files left" test -z "$(partial_files "$W")"

# ---- a full disk: one line naming the file and the cause, every rank ends, nothing left
if [ "$(id -u)" -ne 0 ]; then
  echo "# skipped: the disk-full cases mount tmpfs file systems and need root"
else
  FULL=$TMP/full SMALL=$TMP/small
  mkdir -p "$FULL" "$SMALL"
  cleanup_mounts() { umount "$FULL" 2>/dev/null; umount "$SMALL" 2>/dev/null; }
  trap 'cleanup_mounts; kill_strays; rm -rf -- "$TMP"' EXIT
  if mount -t tmpfs -o size=256k tmpfs "$FULL" && mount -t tmpfs -o size=4m tmpfs "$SMALL"; then
    dd if=/dev/zero of="$FULL/fill" bs=4k count=64 2>/dev/null  # 100% full
    dd if=/dev/zero of="$SMALL/fill" bs=64k count=40 2>/dev/null  # 1.5 MiB left
    # 200 000 labels (800 KB) and centres fit in 1.5 MiB, not with the reserve; 500 000 do not.
    mpi full.data 2 60 generate --output "$W/blobs.h5" --samples 500000 --features 2 --centers 3
    check_ran_ok full.data
    for np in 1 2 3 4; do
      expect_error full_disk.np$np "$np" "$FULL/model.h5" "No space left on device" -- \
        fit --input "$GOOD:/X" --k 3 --output "$FULL/model.h5"
      # Space runs out in the middle of the model (the labels): before, 3 ranks exited 0 with
      # a model full of holes (Open MPI lost the failed write); 2 ranks hung.
      expect_error full_during_write.np$np "$np" "$SMALL/model.h5" "No space left on device" "labels" -- \
        fit --input "$W/blobs.h5:/X" --k 3 --max-iter 2 --output "$SMALL/model.h5"
      # A checkpoint that cannot be written ends the fit with one line and leaves no partial.
      expect_error full_checkpoint.np$np "$np" "$FULL/ck.h5" "No space left on device" -- \
        fit --input "$GOOD:/X" --k 3 --checkpoint "$FULL/ck.h5" --checkpoint-every 1
    done
    # The model fails to be written: the checkpoint (elsewhere) must survive for --resume.
    rm -f "$W/ck2.h5"
    expect_error full_model_keeps_checkpoint 2 "$SMALL/model.h5" "No space left on device" -- \
      fit --input "$W/blobs.h5:/X" --k 3 --max-iter 3 --tol 0 --checkpoint "$W/ck2.h5" --checkpoint-every 1 \
      --output "$SMALL/model.h5"
    check full_model_keeps_checkpoint.kept "the checkpoint was removed although the model was not written" \
      test -s "$W/ck2.h5"
    expect_error full_tfidf 3 "$FULL/t.h5" "No space left on device" -- \
      tfidf --input "$W/few3" --output "$FULL/t.h5"
  else
    fail full_disk.mount "cannot mount tmpfs as root"
  fi
  cleanup_mounts
fi

finish
