#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lloyd/core/exact_sum.hpp"
#include "lloyd/kmeans/assign.hpp"
#include "lloyd/core/cluster_sums.hpp"
#include "lloyd/core/options.hpp"
#include "lloyd/shard.hpp"

namespace lloyd {

/// The per-row memory a fit may add to its shard at the default options: the shard × 15% plus
/// 50 MiB per rank, less what every process holds (memory_model.hpp kProcessBaselineBytes,
/// 26 MiB) — so that a rank's peak stays within 1.15 × shard + 50 MiB.
inline constexpr double kLoopMemoryShare = 0.15;
inline constexpr double kLoopMemoryAllowanceBytes = 24.0 * 1024 * 1024;
/// Bytes per row of an assignment's state: the label, and the bounds (Hamerly: 2 floats;
/// Yinyang: 1 + one per group of about ten centres).
double loop_bytes_per_row(Algorithm algorithm, Eigen::Index k);
/// The per-row state of `algorithm` fits the allowance above on `rows` rows of `features`
/// values of `value_bytes` each, held by one rank: rank-independent (the allowance is met at
/// one rank, so at every rank count).
bool loop_state_within_budget(Algorithm algorithm, Eigen::Index k, Eigen::Index features, std::uint64_t rows,
                              std::size_t value_bytes);
/// choose_algorithm(requested, k, d), and for `auto` Lloyd where Hamerly's bounds would not
/// fit the allowance (loop_state_within_budget): results depend on the data and options
/// only, never on the rank count; the labels and centroids are the same either way.
Algorithm choose_algorithm(Algorithm requested, Eigen::Index k, Eigen::Index d, std::uint64_t rows,
                           std::size_t value_bytes);
/// What --json says of that choice: empty when the chosen algorithm's state fits, else why
/// `auto` fell back to Lloyd or that the requested algorithm's bounds exceed the allowance.
std::string loop_memory_note(Algorithm requested, Eigen::Index k, Eigen::Index d, std::uint64_t rows,
                             std::size_t value_bytes);

/// Groups of centres for Yinyang: a few Lloyd iterations on the centres themselves, so that
/// a group's members move alike. Deterministic (the first `groups` spread-out centres start
/// it; ties to the lower index), so every rank gets the same groups from the same centres.
/// Returns each centre's group; groups that end empty are dropped.
std::vector<int> group_centres(const RowMatrix<double>& centres, int groups);

/// Exact assignment with bounds (Hamerly / Yinyang). Per row it keeps an upper bound on the
/// distance to its own centre and, per group of centres, a lower bound on the distance to
/// every other centre of the group; when the centres move, the bounds move by the centres'
/// drifts (triangle inequality). A row the bounds settle keeps its label; the others of a
/// block of rows are packed and assigned by Assigner's GEMM-form decision, whose scores
/// (less their rounding error bound) give the new lower bounds. Every bound is rounded
/// outwards and every comparison keeps a relative margin larger than the rounding error of
/// squared_distance, so a row keeps its label only when every other centre is strictly
/// farther *in squared_distance*: the labels are exactly those of the full assignment
/// (argmin of squared_distance, ties to the lower index) whatever the rank or thread
/// layout, and so are the centroids computed from them. Bounds are floats: (1 + groups) × 4
/// bytes per row, and nothing else is kept per row (the rows' norms are computed when needed).
template <class T>
class BoundedAssigner {
 public:
  /// `groups` ≥ 1 (1 is Hamerly's algorithm).
  BoundedAssigner(Eigen::Index rows, Eigen::Index features, Eigen::Index clusters, int groups);

  /// Forgets the bounds: the next assign computes every distance of every row.
  void reset();

  /// What an assign does besides labelling the rows.
  struct Options {
    /// Every row's squared distance to its centre is computed and written to `distances`
    /// (otherwise only the rows whose distance was computed are; the others keep theirs).
    bool exact_distances = false;
    /// Cluster sums kept up to date (none when null), laid out for `fixed`.
    ClusterSums* sums = nullptr;
    const FixedPoint* fixed = nullptr;
    /// With `sums`: every row is added to its new cluster (sums made afresh); otherwise each
    /// row that changes label is subtracted from its old cluster and added to the new one.
    bool fresh_sums = false;
  };

  /// Assigns every local row to its nearest centre. `labels` holds the rows' current labels
  /// (−1: none) and is updated. Returns the number of labels that changed.
  std::int64_t assign(const DenseShard<T>& shard, const RowMatrix<T>& centroids,
                      std::span<std::int32_t> labels, std::span<double> distances,
                      const Options& options);

  /// The same assign over the rows in blocks (streamed from a file, or views of a shard):
  /// begin_pass with the centres, assign_block for each block in turn — `block` holds the
  /// local rows [offset, offset + block.local_rows()) of the `rows` given to the
  /// constructor, `labels` and `distances` are the block's — then end_pass. Every row gets
  /// the same label, bounds and distance as in one assign of all the rows.
  void begin_pass(const RowMatrix<T>& centroids);
  std::int64_t assign_block(const DenseShard<T>& block, Eigen::Index offset, std::span<std::int32_t> labels,
                            std::span<double> distances, const Options& options);
  void end_pass();

  /// True when the last assign wrote the distance of every row (always after reset or with
  /// `exact`).
  bool computed_every_row() const { return computed_every_row_; }
  int groups() const { return static_cast<int>(members_.size()); }
  /// Bytes held by the bounds.
  std::size_t bound_bytes() const { return (upper_.size() + lower_.size()) * sizeof(float); }
  /// The distances the last assign computed, and the rows it scored against every centre (its
  /// bounds and the tightening did not settle them), for reporting the pruning.
  const PruningWork& work() const { return work_; }

 private:
  void take_centres(const RowMatrix<T>& centroids);

  // The phases of assign, per thread over its own range of rows (see bounded.cpp).
  struct Pass;   // one assign call: its arguments and what is fixed for all its rows
  struct Swept;  // a block of rows whose bounds have moved
  struct Space;
  void assign_range(const Pass& pass, Space& space, Eigen::Index begin, Eigen::Index end);
  Swept move_bounds(const Pass& pass, Space& space, Eigen::Index first, Eigen::Index count,
                    std::size_t slot);
  void tighten(const Pass& pass, Space& space, const Swept& block);
  void assign_batch(const Pass& pass, Space& space, Eigen::Index count);
  void score_batch(const Pass& pass, Space& space, Eigen::Index count);
  void decide_batch(const Pass& pass, Space& space, Eigen::Index count);
  void update_bounds(const Pass& pass, Space& space, Eigen::Index count);

  // Scratch of one thread, and what it counted in the current assign.
  struct Space {
    Space(RowMatrix<T> padded_scores, ClusterSums sums) : scores(std::move(padded_scores)), moves(std::move(sums)) {}
    RowMatrix<T> scores;    ///< ‖c‖² − 2x·c, columns padded with +inf (Assigner::nearest)
    ClusterSums moves;
    std::vector<Eigen::Index> pending;
    std::vector<std::int32_t> listed;  ///< rows of the block to tighten
    std::vector<double> own;           ///< their distances to their own centres
    std::vector<float> tightened;      ///< and those rounded up: their new upper bounds
    // Per row of a batch: its nearest centre, the squared distance to it, the squared lower
    // bound to the others (Hamerly), and the new bounds.
    std::vector<double> nearest_distance, other;
    std::vector<std::int32_t> chosen;
    std::vector<float> upper, lower;
    std::vector<float> settled;
    std::vector<T> tile;  ///< ScoreTiles' packed rows
    // Direct Hamerly: each row's decision and its second-nearest score.
    std::vector<typename Assigner<T>::Nearest> found;
    std::vector<T> second;
    std::vector<T> norms;  ///< squared_norm of the batch's rows
    Eigen::Index pending_count = 0;  ///< rows gathered in `pending` for the next batch
    std::int64_t changed = 0;        ///< labels changed
    PruningWork work;                ///< this thread's, in this assign
    bool every_row = true;           ///< every row's distance was computed
  };

  Eigen::Index rows_, features_, clusters_;
  int requested_groups_;
  std::vector<int> group_of_;                ///< centre → group
  std::vector<std::vector<int>> members_;    ///< group → centres, increasing
  RowMatrix<T> centres_;                     ///< of the last assign
  Eigen::Matrix<T, Eigen::Dynamic, 1> centre_norms_;
  T largest_norm_ = 0;
  DirectScorer<T> direct_;
  ScoreTiles<T> tiles_;
  std::vector<Space> spaces_;
  // Per centre at index centre + 1 (slot 0: no label yet, zero): the drift since the last
  // assign (upper bound) and half the distance to the nearest other centre (lower bound).
  // Zero-padded to whole registers of 16 (table_size), which the sweep loads.
  static Eigen::Index table_size(Eigen::Index clusters) { return (clusters + 1 + 15) / 16 * 16; }
  std::vector<float> drift_, half_gap_;
  std::vector<float> group_drift_;           ///< per group: the largest drift of its members
  // One group (Hamerly): the centre with the largest drift and the largest of the others',
  // by which the bound of that centre's own rows moves.
  int fastest_ = -2;
  float second_drift_ = 0;
  std::vector<float> upper_, lower_;         ///< rows; rows × groups
  bool have_centres_ = false, computed_every_row_ = false;
  bool bounded_ = false;  ///< the bounds hold since an assign (false after reset)
  PruningWork work_, pass_work_;    ///< work(), and so far in this pass
  bool pass_every_row_ = true;      ///< every row's distance so far in this pass
};

}  // namespace lloyd
