#include "lloyd/generate.hpp"

#include <cmath>

#include "lloyd/out_of_memory.hpp"
#include "lloyd/rng.hpp"

namespace lloyd {

template <class T>
Blobs<T> make_blobs(const Comm& comm, const BlobOptions& options) {
  const CounterRng rng(options.seed);
  const auto d = static_cast<Eigen::Index>(options.features);
  const auto clusters = static_cast<std::uint64_t>(options.centers);
  Blobs<T> blobs;
  const RowRange mine = block_rows(options.samples, comm.size(), comm.rank());
  run_agreed(comm, [&] {
    allocating("the blob centres", static_cast<double>(options.centers) * static_cast<double>(d) * 8,
               [&] { blobs.centers.resize(options.centers, d); });
    allocating("the rank's " + std::to_string(mine.size()) + " rows",
               static_cast<double>(mine.size()) * (static_cast<double>(d) * sizeof(T) + 4), [&] {
                 blobs.data.rows.resize(static_cast<Eigen::Index>(mine.size()), d);
                 blobs.truth.resize(mine.size());
               });
  });
  for (Eigen::Index c = 0; c < options.centers; ++c)
    for (Eigen::Index j = 0; j < d; ++j)
      blobs.centers(c, j) =
          std::fma(options.box_high - options.box_low,
                   rng.uniform(stream_id(Stream::GenerateCentres), static_cast<std::uint64_t>(c * d + j)),
                   options.box_low);

  blobs.data.global_rows = options.samples;
  blobs.data.first_row = mine.begin;

  // Before shuffling, rows [0, big_rows) belong to the clusters of size base + 1.
  const std::uint64_t base = options.samples / clusters, extra = options.samples % clusters;
  const std::uint64_t big_rows = extra * (base + 1);
  const Permutation shuffle(options.samples, options.seed);
  auto rows = blobs.data.rows.mutable_matrix();
  const std::uint64_t pairs_per_row = static_cast<std::uint64_t>(d + 1) / 2;
  for (std::uint64_t g = mine.begin; g < mine.end; ++g) {
    const std::uint64_t position = shuffle(g);
    const std::uint64_t cluster =
        position < big_rows ? position / (base + 1) : extra + (position - big_rows) / base;
    const auto i = static_cast<Eigen::Index>(g - mine.begin);
    blobs.truth[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(cluster);
    for (Eigen::Index j = 0; j < d; j += 2) {
      const auto noise = rng.normal_pair(stream_id(Stream::GenerateNoise),
                                         g * pairs_per_row + static_cast<std::uint64_t>(j / 2));
      for (Eigen::Index h = 0; h < 2 && j + h < d; ++h)
        rows(i, j + h) = static_cast<T>(
            std::fma(options.cluster_std, noise[h], blobs.centers(static_cast<Eigen::Index>(cluster), j + h)));
    }
  }
  return blobs;
}

template Blobs<float> make_blobs(const Comm&, const BlobOptions&);
template Blobs<double> make_blobs(const Comm&, const BlobOptions&);

}  // namespace lloyd
