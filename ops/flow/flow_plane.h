#pragma once
// The CUDA schedule of one plane whose working fields sit in shared memory (flow_cuda.cu): the
// passes of the forward and of the backward over the plane's pixels, shared out among a team
// of threads with a barrier after each pass. Written once for a Team: on the GPU the plane's
// block, on the host a single thread, so that the CPU tests run the per-pixel formulas in the
// GPU's order and compare the result with the CPU schedule's (tests/flow_plane_test.cc).
//
// A Team has rank() (the thread's index), size() (the team's thread count) and sync() (a
// barrier for the whole team).
#include "ops/flow/flow_kernels.h"

namespace repflow::ops {

// Runs f(i, j) over the team's share of the pixels of an h x w plane, then waits for the team.
template <class Team, class F>
RF_HD void flow_team_pass(const Team& team, int h, int w, F f) {
  for (int q = team.rank(); q < h * w; q += team.size()) f(q / w, q % w);
  team.sync();
}

// The iterate at padded index k into `dst`, the saved block of one iteration.
RF_HD void flow_save_state(const FlowState& st, float* dst, int padded, int k) {
  dst[k] = st.u1[k];
  dst[padded + k] = st.u2[k];
  dst[2 * padded + k] = st.p11[k];
  dst[3 * padded + k] = st.p12[k];
  dst[4 * padded + k] = st.p21[k];
  dst[5 * padded + k] = st.p22[k];
}

// Where the saved block of iteration `it` starts among a plane's n_iter blocks.
RF_HD int64_t flow_saved_offset(int it, int padded) {
  return int64_t{it} * kFlowStatePlanes * padded;
}

// The forward of one plane: fp its working planes (zeroed, pads included), f1 and f2 its input
// planes, out1 and out2 its x- and y-flow output planes; `saved` null or the plane's n_iter
// blocks for the backward (zeroed: only interior pixels are written).
template <class Team>
RF_HD void flow_forward_plane(const Team& team, const FlowProblem& pb, const FlowForwardPlanes& fp,
                              const float* f1, const float* f2, float* out1, float* out2,
                              float* saved) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w), stride = flow_stride(w);
  flow_team_pass(team, h, w,
                 [&](int i, int j) { flow_image_init(fp.im, f1, f2, h, w, i, j, pb.scalars); });
  for (int it = 0; it < pb.n_iter; ++it) {
    float* dst = saved ? saved + flow_saved_offset(it, padded) : nullptr;
    flow_team_pass(team, h, w, [&](int i, int j) {
      const int k = flow_index(i, j, w);
      if (dst) flow_save_state(fp.st, dst, padded, k);
      flow_primal_step<float>(fp.im, fp.st, fp.st, pb.scalars, stride, k, true);
    });
    flow_team_pass(team, h, w,
                   [&](int i, int j) { flow_dual_step_at(fp.st, pb.scalars, h, w, i, j); });
  }
  flow_team_pass(team, h, w, [&](int i, int j) {
    const int k = flow_index(i, j, w);
    out1[i * w + j] = fp.st.u1[k];
    out2[i * w + j] = fp.st.u2[k];
  });
}

// The backward of one plane: bp its working planes (zeroed, pads included), f1 and f2 its input
// planes, g1 and g2 the gradients of its x- and y-flow output planes, `saved` the forward's
// blocks; writes the input gradients and adds the thread's parameter-gradient partials to acc.
template <class Team>
RF_HD void flow_backward_plane(const Team& team, const FlowProblem& pb,
                               const FlowBackwardPlanes& bp, const float* f1, const float* f2,
                               const float* g1, const float* g2, const float* saved, float* grad_f1,
                               float* grad_f2, float* acc) {
  const int h = pb.h, w = pb.w, padded = flow_padded_size(h, w), stride = flow_stride(w);
  flow_team_pass(team, h, w,
                 [&](int i, int j) { flow_back_init(bp, f1, f2, g1, g2, h, w, i, j, pb.scalars); });
  // Each iteration in reverse: the recompute pass, then the dual, grad and primal reverses.
  for (int it = pb.n_iter - 1; it >= 0; --it) {
    const FlowState st = flow_saved_state_at(saved + flow_saved_offset(it, padded), padded);
    flow_team_pass(team, h, w, [&](int i, int j) {
      flow_back_recompute<float>(bp.im, st, bp.ad, pb.scalars, stride, flow_index(i, j, w));
    });
    flow_team_pass(team, h, w, [&](int i, int j) {
      flow_back_dual_at(st, bp.ad, pb.scalars, h, w, i, j, acc);
    });
    flow_team_pass(team, h, w, [&](int i, int j) {
      flow_back_grad<float>(bp.ad, pb.scalars, stride, flow_index(i, j, w));
    });
    flow_team_pass(team, h, w, [&](int i, int j) {
      flow_back_primal_at(bp.im, st, bp.ad, pb.scalars, h, w, i, j, acc);
    });
  }
  flow_team_pass(team, h, w, [&](int i, int j) {
    flow_back_inputs(bp.ad, f2, h, w, i, j, pb.scalars, grad_f1, grad_f2, acc);
  });
}

}  // namespace repflow::ops
